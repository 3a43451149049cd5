#include "eval/synthetic_source.h"

#include "util/json_reader.h"

namespace dreamer::eval {

const SyntheticSource& SyntheticSources::get(const std::string& name,
                                             const std::string& path) const {
  auto it = sources_.find(name);
  if (it != sources_.end()) return it->second;
  std::string known;
  for (const auto& [n, s] : sources_) known += (known.empty() ? "" : ", ") + n;
  throw InputError(path, "unknown synthetic source \"" + name + "\" (known: " + known + ")");
}

SyntheticSources builtin_synthetic_sources() {
  SyntheticSources sources;
  sources.add("modular_arithmetic",
              [](int64_t n, uint64_t seed, const nlohmann::json& params, const std::string& path) {
                int steps = 3, modulus = 10;
                JsonReader r(params, path);
                r.get("steps", steps);
                r.get("modulus", modulus);
                r.finish();
                if (steps < 1 || modulus < 2)
                  throw InputError(path, "needs steps >= 1 and modulus >= 2");
                std::mt19937_64 rng(seed);
                std::vector<data::Example> out;
                for (int64_t i = 0; i < n; ++i)
                  out.push_back(data::modular_arithmetic(rng, steps, modulus));
                return out;
              });
  return sources;
}

}  // namespace dreamer::eval
