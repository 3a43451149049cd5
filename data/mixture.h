#pragma once
// A weighted mixture of document sources. Document i of the mixture comes from source s with
// probability weight_s / sum(weights), drawn from (seed, i) alone; each source is read in its
// own order (its k-th pick is its document k), so file sources still cover every document once
// per epoch. A single source is a mixture of one.
//   {"type": "mixture", "sources": [{"weight": 3, "source": {...}}, {"weight": 1, "source":
//   {...}}]}
// or any source spec (data/source.h) on its own.
#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

#include "data/source.h"

namespace dreamer::data {

struct MixtureComponent {
  double weight = 1.0;
  std::shared_ptr<DocumentSource> source;
};

class Mixture {
 public:
  explicit Mixture(std::vector<MixtureComponent> components);
  static Mixture from_json(const nlohmann::json& spec, const std::string& path = "$");
  nlohmann::json to_json() const;

  size_t size() const { return components_.size(); }
  const MixtureComponent& component(size_t s) const { return components_[s]; }
  // Which source document `index` of the mixture comes from.
  size_t choose(uint64_t seed, uint64_t index) const;
  // The seed source `s` is read with (distinct per source, so two copies of one file in a
  // mixture are not read in lockstep).
  static uint64_t source_seed(uint64_t seed, size_t s);

 private:
  std::vector<MixtureComponent> components_;
  std::vector<double> cumulative_;  // normalised cumulative weights, last = 1
};

}  // namespace dreamer::data
