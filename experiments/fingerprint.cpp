#include "experiments/fingerprint.h"

#include <algorithm>
#include <cstdio>
#include <fstream>

#include "util/errors.h"

namespace dreamer::experiments {

namespace {

using json = nlohmann::json;

struct Fnv1a {
  uint64_t state = 1469598103934665603ull;
  void add(const char* data, size_t n) {
    for (size_t i = 0; i < n; ++i)
      state = (state ^ static_cast<unsigned char>(data[i])) * 1099511628211ull;
  }
  std::string hex() const {
    char out[17];
    std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(state));
    return out;
  }
};

// Every "path" string in a data spec (sources and mixtures nest them at any depth).
void collect_paths(const json& spec, std::vector<std::string>& out) {
  if (spec.is_object()) {
    for (const auto& [key, value] : spec.items()) {
      if (key == "path" && value.is_string()) out.push_back(value.get<std::string>());
      collect_paths(value, out);
    }
  } else if (spec.is_array()) {
    for (const auto& value : spec) collect_paths(value, out);
  }
}

void diff(const json& a, const json& b, const std::string& path,
          std::vector<FingerprintChange>& out) {
  if (a.is_object() && b.is_object()) {
    std::vector<std::string> keys;
    for (const auto& [k, v] : a.items()) keys.push_back(k);
    for (const auto& [k, v] : b.items())
      if (!a.contains(k)) keys.push_back(k);
    std::sort(keys.begin(), keys.end());
    for (const auto& k : keys)
      diff(a.contains(k) ? a[k] : json(), b.contains(k) ? b[k] : json(), path + "." + k, out);
  } else if (a.is_array() && b.is_array() && a.size() == b.size()) {
    for (size_t i = 0; i < a.size(); ++i)
      diff(a[i], b[i], path + "[" + std::to_string(i) + "]", out);
  } else if (a != b) {
    out.push_back({path, a, b});
  }
}

}  // namespace

std::string file_hash(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  require(static_cast<bool>(in), path, "cannot read (to fingerprint the run's data)");
  in.seekg(0, std::ios::end);
  const auto size = static_cast<uint64_t>(in.tellg());
  in.seekg(0);
  constexpr uint64_t kWhole = 1ull << 30, kSample = 64ull << 20;
  Fnv1a h;
  std::vector<char> buffer(1 << 20);
  auto add_range = [&](uint64_t begin, uint64_t n) {
    in.seekg(static_cast<std::streamoff>(begin));
    while (n > 0) {
      const auto chunk = static_cast<std::streamsize>(std::min<uint64_t>(n, buffer.size()));
      in.read(buffer.data(), chunk);
      require(in.gcount() == chunk, path, "cannot read (to fingerprint the run's data)");
      h.add(buffer.data(), static_cast<size_t>(chunk));
      n -= static_cast<uint64_t>(chunk);
    }
  };
  if (size <= kWhole) {
    add_range(0, size);
    return "fnv1a64:" + h.hex();
  }
  const std::string size_text = std::to_string(size);
  h.add(size_text.data(), size_text.size());
  add_range(0, kSample);
  add_range(size - kSample, kSample);
  return "fnv1a64-sampled:" + h.hex();
}

json run_fingerprint(const ExperimentPlan& plan, const PlannedRun& run,
                     const data::Tokenizer& tokenizer, const std::string& code_version) {
  const auto& spec = plan.spec;
  json files = json::object();
  std::vector<std::string> paths;
  collect_paths(spec.data.train, paths);
  for (const auto& p : paths) files[p] = file_hash(p);
  json tasks = json::array();
  for (const auto& t : plan.tasks)
    tasks.push_back({{"name", t.spec.name},
                     {"metric", t.metric},
                     {"limit", t.limit},
                     {"spec", t.spec.to_json()}});
  json fingerprint = {
      {"model", run.match.config.to_json()},
      {"train", run.train.to_json()},
      {"workload",
       {{"seq_len", spec.matching.workload.seq_len}, {"batch", spec.matching.workload.batch}}},
      {"seed", run.seed},
      {"data", {{"spec", spec.data.train}, {"files", files}}},
      {"tokenizer", {{"spec", tokenizer.to_json()}}},
      {"eval",
       {{"steps", run.eval_steps},
        {"depths", run.eval_depths},
        {"batch_size", spec.eval.batch_size},
        {"samples", spec.eval.samples},
        {"tasks", tasks}}},
      {"code_version", code_version}};
  // Only experiments that name groups have the key, so older fingerprints still compare equal.
  if (!plan.groups.empty()) {
    json groups = json::array();
    for (const auto& g : plan.groups) {
      json names = json::array();
      for (size_t t : g.subtasks) names.push_back(plan.tasks[t].spec.name);
      groups.push_back({{"name", g.spec.name},
                        {"version", g.spec.version},
                        {"tasks", names},
                        {"aggregate", g.spec.aggregate},
                        {"metric", g.metric}});
    }
    fingerprint["eval"]["groups"] = groups;
  }
  return fingerprint;
}

std::vector<FingerprintChange> fingerprint_changes(const json& stored, const json& current) {
  std::vector<FingerprintChange> out;
  if (!stored.is_object() || !current.is_object()) {
    diff(stored, current, "$", out);
    return out;
  }
  // Sections in the order of what decides a run most (a changed model reads first), then any
  // section only one side has.
  std::vector<std::string> order = {"model", "train",     "workload", "seed",
                                    "data",  "tokenizer", "eval",     "code_version"};
  for (const auto* side : {&stored, &current})
    for (const auto& [key, value] : side->items())
      if (std::find(order.begin(), order.end(), key) == order.end()) order.push_back(key);
  for (const auto& key : order)
    diff(stored.contains(key) ? stored[key] : json(), current.contains(key) ? current[key] : json(),
         "$." + key, out);
  return out;
}

bool change_allowed(const std::string& path, const std::vector<std::string>& allowed) {
  for (auto field : allowed) {
    if (field.rfind("$", 0) != 0) field = "$." + field;
    if (path == field) return true;
    if (path.size() > field.size() && path.compare(0, field.size(), field) == 0 &&
        (path[field.size()] == '.' || path[field.size()] == '['))
      return true;
  }
  return false;
}

}  // namespace dreamer::experiments
