#include "eval/synthetic_source.h"

#include "data/synthetic_task.h"
#include "util/errors.h"

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
  // Every task of data/synthetic_task.h, its params being that task's spec without "task":
  // {"steps": [min, max], "split": "train" | "test_id" | "test_ood", "ood_steps", knobs...}.
  SyntheticSources sources;
  for (const std::string& name : data::task_names())
    sources.add(name, [name](int64_t n, uint64_t seed, const nlohmann::json& params,
                             const std::string& path) {
      if (!params.is_object()) throw InputError(path, "expected an object of task parameters");
      if (params.contains("task"))
        throw InputError(path + ".task", "the source names the task already");
      nlohmann::json spec = params;
      spec["task"] = name;
      data::SyntheticTask task(data::TaskSpec::from_json(spec, path), path);
      return task.examples(static_cast<uint64_t>(n), seed);
    });
  return sources;
}

}  // namespace dreamer::eval
