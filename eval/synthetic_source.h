#pragma once
// Synthetic benchmark sources: a task file names one ("data": {"synthetic": {"source": ...}})
// and gets n {prompt, answer} examples as documents, scored like any JSONL task. The data
// generators register here by name; nothing else in eval/ knows about them.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "data/synthetic.h"

namespace dreamer::eval {

// n examples from a seed; `params` is the task file's free-form "params" object (the source
// validates it and throws InputError naming `path` for bad keys).
using SyntheticSource = std::function<std::vector<data::Example>(
    int64_t n, uint64_t seed, const nlohmann::json& params, const std::string& path)>;

class SyntheticSources {
 public:
  void add(const std::string& name, SyntheticSource source) { sources_[name] = std::move(source); }
  // Throws InputError naming `path` and listing the known sources.
  const SyntheticSource& get(const std::string& name, const std::string& path) const;

 private:
  std::map<std::string, SyntheticSource> sources_;
};

// The sources built into the harness: one per task of data/synthetic_task.h, named like it
// (modular_arithmetic, variable_tracking, multi_digit_addition, graph_reachability).
SyntheticSources builtin_synthetic_sources();

}  // namespace dreamer::eval
