#include "experiments/matching_spec.h"

#include <stdexcept>

#include <optional>

#include "util/errors.h"
#include "util/json_reader.h"
#include "zoo/registry.h"

namespace dreamer::experiments {

namespace {

models::Workload parse_workload(JsonReader r) {
  models::Workload w;
  r.get("seq_len", w.seq_len);
  r.get("batch", w.batch);
  r.get("recurrences", w.recurrences);
  r.get("param_bytes", w.param_bytes);
  r.get("activation_bytes", w.activation_bytes);
  r.get("optimizer_state_bytes", w.optimizer_state_bytes);
  r.get("activation_checkpointing", w.activation_checkpointing);
  r.finish();
  if (w.seq_len < 1) throw InputError(r.path_of("seq_len"), "must be positive");
  if (w.batch < 1) throw InputError(r.path_of("batch"), "must be positive");
  if (w.recurrences < 0)
    throw InputError(r.path_of("recurrences"), "must be >= 0 (0 = the model's mean)");
  return w;
}

// A free variable: a name, or {"name", "min", "max", "multiple_of"}; unspecified bounds come
// from the family's declared free hyperparameters.
matching::FreeVariable parse_free(const nlohmann::json& j, const std::string& path,
                                  const models::FamilyInfo& family) {
  matching::FreeVariable v;
  std::optional<JsonReader> r;  // the object form's reader, kept so bounds override defaults
  if (j.is_string()) {
    v.name = j.get<std::string>();
  } else {
    r.emplace(j, path);
    r->get("name", v.name);
    if (v.name.empty()) throw InputError(path + ".name", "required");
  }
  bool declared = false;
  for (const auto& f : family.free_hyperparameters)
    if (f.name == v.name) {
      v.min = f.min;
      v.max = f.max;
      v.multiple_of = f.multiple_of;
      declared = true;
    }
  if (r) {
    r->get("min", v.min);
    r->get("max", v.max);
    r->get("multiple_of", v.multiple_of);
    r->finish();
  } else if (!declared) {
    // A former key (docs/DESIGN.md, "Config names"): the family's parser names the new one.
    nlohmann::json probe = nlohmann::json::object();
    std::string pointer = "/" + v.name;
    for (char& c : pointer)
      if (c == '.') c = '/';
    probe[nlohmann::json::json_pointer(pointer)] = 1;
    try {
      family.resolve(probe, "$");
    } catch (const InputError& e) {
      const std::string renamed = "renamed: ";
      if (e.message().rfind(renamed, 0) == 0)
        throw InputError(path, "\"" + v.name + "\" is a former name of " + family.name + ": " +
                                   e.message().substr(renamed.size()));
    }
    std::string names;
    for (const auto& f : family.free_hyperparameters) names += (names.empty() ? "" : ", ") + f.name;
    throw InputError(path, "\"" + v.name + "\" is not a declared free hyperparameter of " +
                               family.name + " (declared: " + names +
                               "); give it as {\"name\", \"min\", \"max\"}");
  }
  if (v.min < 0 || v.max < v.min) throw InputError(path, "needs 0 <= min <= max");
  if (v.multiple_of < 1) throw InputError(path + ".multiple_of", "must be positive");
  if ((v.min + v.multiple_of - 1) / v.multiple_of * v.multiple_of > v.max)
    throw InputError(path, "no multiple of " + std::to_string(v.multiple_of) + " lies in [" +
                               std::to_string(v.min) + ", " + std::to_string(v.max) + "]");
  return v;
}

}  // namespace

MatchingSpec parse_matching_part(JsonReader& r, const nlohmann::json& root,
                                 const std::vector<std::string>& extra_arm_keys) {
  MatchingSpec spec;
  r.get("name", spec.name);
  spec.workload = parse_workload(r.child("workload"));

  if (!r.has("reference"))
    throw InputError(r.path_of("reference"), "required: {\"model\": ...} or {\"targets\": ...}");
  JsonReader ref = r.child("reference");
  if (ref.has("model") == ref.has("targets"))
    throw InputError(ref.path(), "give exactly one of \"model\" and \"targets\"");
  if (ref.has("model")) {
    nlohmann::json model = root["reference"]["model"];
    ref.mark("model");  // ModelConfig validates the inside
    spec.reference_model = zoo::model_config_from_json(model, ref.path_of("model"));
    const auto& family = zoo::family(spec.reference_model->family);
    if (!family.cost)
      throw InputError(ref.path_of("model.family"),
                       "family " + family.name + " has no cost model yet");
    try {
      spec.targets = matching::targets_of(family.cost(*spec.reference_model, spec.workload));
    } catch (const std::invalid_argument& e) {  // a workload setting the family cannot honour
      throw InputError(ref.path_of("model"), e.what());
    }
  } else {
    JsonReader t = ref.child("targets");
    for (const auto& [name, c] : matching::criterion_names()) {
      if (!t.has(name)) continue;
      double value = 0;
      t.get(name, value);
      if (value <= 0) throw InputError(t.path_of(name), "must be positive");
      (c == matching::Criterion::kParams  ? spec.targets.params
       : c == matching::Criterion::kFlops ? spec.targets.flops
                                          : spec.targets.memory) = value;
    }
    t.finish();
  }
  ref.finish();

  if (!root.contains("arms") || !root["arms"].is_array() || root["arms"].empty())
    throw InputError(r.path_of("arms"), "required: a non-empty array of arms");
  r.mark("arms");  // parsed below
  for (size_t i = 0; i < root["arms"].size(); ++i) {
    const std::string path = r.path_of("arms") + "[" + std::to_string(i) + "]";
    const auto& a = root["arms"][i];
    if (!a.is_object()) throw InputError(path, "expected an object (an arm)");
    JsonReader ar(a, path);
    matching::Arm arm;
    ar.get("name", arm.name);
    if (arm.name.empty()) arm.name = "arm" + std::to_string(i);
    if (!a.contains("model")) throw InputError(path + ".model", "required model config");
    arm.model = a["model"];
    ar.mark("model");
    const auto& family =
        zoo::family(zoo::model_config_from_json(arm.model, path + ".model").family);
    if (a.contains("free")) {
      if (!a["free"].is_array()) throw InputError(path + ".free", "expected an array");
      for (size_t f = 0; f < a["free"].size(); ++f)
        arm.free.push_back(
            parse_free(a["free"][f], path + ".free[" + std::to_string(f) + "]", family));
      ar.mark("free");
    }
    if (!a.contains("match") || !a["match"].is_array() || a["match"].empty())
      throw InputError(path + ".match", "required: a non-empty array of {params, flops, memory}");
    for (size_t m = 0; m < a["match"].size(); ++m) {
      const auto& entry = a["match"][m];
      bool known = false;
      for (const auto& [name, c] : matching::criterion_names())
        if (entry.is_string() && entry.get<std::string>() == name) {
          arm.criteria.push_back(c);
          known = true;
        }
      if (!known)
        throw InputError(path + ".match[" + std::to_string(m) + "]",
                         "expected one of {params, flops, memory}, got " + entry.dump());
    }
    ar.mark("match");
    ar.get("tolerance", arm.tolerance);
    if (arm.tolerance < 0) throw InputError(path + ".tolerance", "must be >= 0");
    for (const auto& key : extra_arm_keys) ar.mark(key);
    ar.finish();
    spec.arms.push_back(std::move(arm));
  }
  return spec;
}

MatchingSpec parse_matching_spec(const nlohmann::json& root, const std::string& file) {
  JsonReader r(root, file + ":$");
  auto spec = parse_matching_part(r, root, {});
  r.finish();
  return spec;
}

MatchingSpec read_matching_spec(const std::string& file) {
  return parse_matching_spec(read_json_file(file), file);
}

std::vector<MatchedArm> match_all(const MatchingSpec& spec, const std::string& file) {
  std::vector<MatchedArm> out;
  for (size_t i = 0; i < spec.arms.size(); ++i) {
    const std::string path = file + ":$.arms[" + std::to_string(i) + "]";
    try {
      out.push_back({matching::solve(spec.arms[i], spec.targets, spec.workload, path), path});
    } catch (const std::invalid_argument& e) {  // a workload setting the family cannot honour
      throw InputError(path, e.what());
    }
  }
  return out;
}

}  // namespace dreamer::experiments
