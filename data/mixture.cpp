#include "data/mixture.h"

#include <algorithm>
#include <stdexcept>

#include "data/seeding.h"
#include "util/json_reader.h"

namespace dreamer::data {

Mixture::Mixture(std::vector<MixtureComponent> components) : components_(std::move(components)) {
  if (components_.empty()) throw std::invalid_argument("Mixture: no sources");
  double total = 0;
  for (const auto& c : components_) {
    if (!(c.weight > 0)) throw std::invalid_argument("Mixture: weights must be > 0");
    if (!c.source) throw std::invalid_argument("Mixture: null source");
    total += c.weight;
  }
  double running = 0;
  for (const auto& c : components_) cumulative_.push_back((running += c.weight) / total);
  cumulative_.back() = 1.0;
}

Mixture Mixture::from_json(const nlohmann::json& spec, const std::string& path) {
  if (!spec.is_object() || !spec.contains("type") || spec.at("type") != "mixture")
    return Mixture({{1.0, make_source(spec, path)}});
  // "sources" is an array of objects, which JsonReader has no getter for: the top level is
  // checked by hand and each item with its own reader.
  for (auto it = spec.begin(); it != spec.end(); ++it)
    if (it.key() != "type" && it.key() != "sources")
      throw InputError(path + "." + it.key(), "unknown key");
  const std::string sources_path = path + ".sources";
  if (!spec.contains("sources") || !spec.at("sources").is_array() || spec.at("sources").empty())
    throw InputError(sources_path,
                     "expected a non-empty array of {\"weight\": W, \"source\": {...}}");
  std::vector<MixtureComponent> components;
  const nlohmann::json& sources = spec.at("sources");
  for (size_t i = 0; i < sources.size(); ++i) {
    const std::string item_path = sources_path + "[" + std::to_string(i) + "]";
    JsonReader item(sources[i], item_path);
    MixtureComponent c;
    item.get("weight", c.weight);
    if (!(c.weight > 0)) throw InputError(item.path_of("weight"), "expected a number > 0");
    if (!item.has("source")) throw InputError(item.path_of("source"), "missing (a source spec)");
    item.child("source");
    item.finish();
    c.source = make_source(sources[i].at("source"), item.path_of("source"));
    components.push_back(std::move(c));
  }
  return Mixture(std::move(components));
}

nlohmann::json Mixture::to_json() const {
  if (components_.size() == 1 && components_[0].weight == 1.0)
    return components_[0].source->to_json();
  nlohmann::json sources = nlohmann::json::array();
  for (const auto& c : components_)
    sources.push_back({{"weight", c.weight}, {"source", c.source->to_json()}});
  return {{"type", "mixture"}, {"sources", sources}};
}

size_t Mixture::choose(uint64_t seed, uint64_t index) const {
  if (components_.size() == 1) return 0;
  // 53 random bits -> a uniform double in [0, 1).
  const double u = static_cast<double>(mix_seed(seed, index) >> 11) * (1.0 / 9007199254740992.0);
  return std::upper_bound(cumulative_.begin(), cumulative_.end(), u) - cumulative_.begin();
}

uint64_t Mixture::source_seed(uint64_t seed, size_t s) {
  return mix_seed(~seed, s);
}

}  // namespace dreamer::data
