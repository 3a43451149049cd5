#include "results/item_outcomes.h"

#include <cmath>

namespace dreamer::results {

namespace {

const std::string kExactMatch = "exact_match,";

std::optional<double> as_outcome(const nlohmann::json* field) {
  if (!field) return std::nullopt;
  if (field->is_boolean()) return field->get<bool>() ? 1.0 : 0.0;
  if (field->is_number()) return field->get<double>();
  return std::nullopt;
}

const nlohmann::json* member(const nlohmann::json& object, const std::string& key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

}  // namespace

std::optional<Outcome> item_outcome(const std::string& metric, const nlohmann::json& details,
                                    const std::string& prompt) {
  auto plain = [](std::optional<double> v) -> std::optional<Outcome> {
    if (!v) return std::nullopt;
    return Outcome{*v, 1.0};
  };
  if (metric == "acc" || metric == "acc_norm") return plain(as_outcome(member(details, metric)));
  if (metric.rfind(kExactMatch, 0) == 0) {
    const auto* filters = member(details, "filters");
    const auto* filter = filters ? member(*filters, metric.substr(kExactMatch.size())) : nullptr;
    return plain(as_outcome(filter ? member(*filter, "exact_match") : nullptr));
  }
  if (metric == "bits_per_byte") {
    const auto* ll = member(details, "loglikelihood");
    const auto* stored_bytes = member(details, "bytes");
    if (!ll || !ll->is_number()) return std::nullopt;
    const double bytes = stored_bytes && stored_bytes->is_number()
                             ? stored_bytes->get<double>()
                             : static_cast<double>(prompt.size());
    if (!(bytes > 0)) return std::nullopt;
    // The task's score is -sum(ll) / sum(bytes) / ln 2: the byte-weighted mean of these.
    return Outcome{-ll->get<double>() / bytes / std::log(2.0), bytes};
  }
  return std::nullopt;
}

uint64_t prompt_hash(const std::string& prompt) {
  uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a, 64 bits
  for (unsigned char c : prompt) h = (h ^ c) * 0x100000001b3ULL;
  return h;
}

std::vector<ItemOutcome> load_items(const ReadOnlyDatabase& db, const std::string& run_id,
                                    const std::string& checkpoint, const std::string& task,
                                    int64_t depth, const std::string& metric, int64_t n) {
  std::vector<ItemOutcome> items;
  const auto rows = db.query(R"sql(
      SELECT doc_index, prompt, details_json FROM eval_samples
      WHERE run_id = ?1 AND checkpoint = ?2 AND task = ?3 AND depth = ?4 ORDER BY doc_index)sql",
                             {run_id, checkpoint, task, std::to_string(depth)});
  for (const auto& row : rows.rows) {
    const auto details = nlohmann::json::parse(row[2].to_string(), nullptr, false);
    const auto value = item_outcome(metric, details, row[1].to_string());
    if (!value) return {};
    items.push_back({row[0].integer, prompt_hash(row[1].to_string()), value->value, value->weight});
  }
  if (static_cast<int64_t>(items.size()) != n) return {};
  return items;
}

bool same_items(const std::vector<ItemOutcome>& a, const std::vector<ItemOutcome>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].doc_index != b[i].doc_index || a[i].prompt_hash != b[i].prompt_hash) return false;
  return true;
}

std::vector<double> item_values(const std::vector<ItemOutcome>& items) {
  std::vector<double> values;
  values.reserve(items.size());
  for (const auto& item : items) values.push_back(item.value);
  return values;
}

std::vector<double> item_weights(const std::vector<ItemOutcome>& items) {
  bool plain = true;
  for (const auto& item : items) plain = plain && item.weight == 1.0;
  if (plain) return {};
  std::vector<double> weights;
  weights.reserve(items.size());
  for (const auto& item : items) weights.push_back(item.weight);
  return weights;
}

}  // namespace dreamer::results
