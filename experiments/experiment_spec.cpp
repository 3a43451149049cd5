#include "experiments/experiment_spec.h"

#include "data/shards.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "data/mixture.h"
#include "data/tokenizer.h"
#include "experiments/expand.h"
#include "util/errors.h"
#include "util/json_reader.h"

namespace dreamer::experiments {

namespace {

EvalSchedule parse_eval(JsonReader r, const nlohmann::json& j) {
  EvalSchedule e;
  r.get("checkpoints", e.checkpoints);
  r.get("ratio", e.ratio);
  if (const auto* at = r.raw("at_tokens")) {
    require(at->is_array() && !at->empty(), r.path_of("at_tokens"),
            "expected a non-empty array of token counts");
    for (size_t i = 0; i < at->size(); ++i) {
      require((*at)[i].is_number() && (*at)[i].get<double>() > 0,
              r.path_of("at_tokens") + "[" + std::to_string(i) + "]",
              "expected a positive token count");
      e.at_tokens.push_back(static_cast<int64_t>(std::llround((*at)[i].get<double>())));
    }
  }
  r.get("depths", e.depths);
  r.get("batch_size", e.batch_size);
  r.get("samples", e.samples);
  if (const auto* tasks = r.raw("tasks")) {
    require(tasks->is_array(), r.path_of("tasks"), "expected an array of tasks");
    for (size_t i = 0; i < tasks->size(); ++i) {
      const std::string path = r.path_of("tasks") + "[" + std::to_string(i) + "]";
      const auto& t = (*tasks)[i];
      EvalTask task;
      if (t.is_string()) {
        task.task = t;
      } else {
        require(t.is_object(), path,
                "expected a task name or {\"task\": ..., \"metric\": ..., \"limit\": ...}");
        JsonReader tr(t, path);
        const auto* spec = tr.raw("task");
        require(spec && (spec->is_string() || spec->is_object()), tr.path_of("task"),
                "required: a task name, a task file, or an inline task spec");
        task.task = *spec;
        tr.get("metric", task.metric);
        tr.get("limit", task.limit);
        tr.finish();
        require(task.limit >= 0, tr.path_of("limit"), "must be >= 0 (0 = all documents)");
      }
      e.tasks.push_back(std::move(task));
    }
  }
  (void)j;
  r.finish();
  require(e.checkpoints >= 1, r.path_of("checkpoints"), "must be >= 1");
  require(e.ratio > 1, r.path_of("ratio"), "must be > 1 (geometric spacing)");
  require(e.batch_size >= 1, r.path_of("batch_size"), "must be >= 1");
  for (size_t i = 0; i < e.depths.size(); ++i)
    require(e.depths[i] >= 1, r.path_of("depths") + "[" + std::to_string(i) + "]", "must be >= 1");
  return e;
}

}  // namespace

std::string run_id(const std::string& experiment, const std::string& arm, int64_t seed) {
  return experiment + "/" + arm + "/seed" + std::to_string(seed);
}

ExperimentSpec parse_experiment(const nlohmann::json& root, const std::string& file,
                                bool check_data) {
  require(root.is_object(), file + ":$", "expected a JSON object (an experiment)");
  ExperimentSpec spec;
  spec.file = file;
  spec.resolved = root;
  JsonReader r(root, file + ":$");
  r.mark("$schema");  // editors' hint to experiments/schema.json
  spec.matching = parse_matching_part(r, root, {"train"});
  spec.name = spec.matching.name;
  require(spec.name.find('/') == std::string::npos, r.path_of("name"),
          "must not contain '/' (it is part of run ids)");
  r.get("description", spec.description);

  std::set<std::string> arm_names;
  for (size_t i = 0; i < spec.matching.arms.size(); ++i) {
    const auto& name = spec.matching.arms[i].name;
    const std::string path = r.path_of("arms") + "[" + std::to_string(i) + "].name";
    require(arm_names.insert(name).second, path, "\"" + name + "\" names two arms");
    require(name.find('/') == std::string::npos, path,
            "must not contain '/' (it is part of run ids)");
  }

  if (r.has("seeds")) {
    spec.seeds.clear();
    r.get("seeds", spec.seeds);
    require(!spec.seeds.empty(), r.path_of("seeds"), "expected at least one seed");
    std::set<int64_t> unique;
    for (size_t i = 0; i < spec.seeds.size(); ++i) {
      require(spec.seeds[i] >= 0, r.path_of("seeds") + "[" + std::to_string(i) + "]",
              "must be >= 0");
      require(unique.insert(spec.seeds[i]).second,
              r.path_of("seeds") + "[" + std::to_string(i) + "]", "repeated seed");
    }
  }

  const bool has_data = r.has("data"), has_train = r.has("train");
  require(has_data == has_train, r.path(),
          "\"data\" and \"train\" go together: give both to train, neither to only match");
  spec.has_training = has_data;
  spec.data_checked = check_data;
  // Matching-only files may go unnamed; runs are keyed by the name.
  require(!spec.name.empty() || !has_data, r.path_of("name"), "required: the experiment's name");
  if (has_data) {
    JsonReader d = r.child("data");
    if (const auto* tok = d.raw("tokenizer")) spec.data.tokenizer = *tok;
    const auto* train_data = d.raw("train");
    require(train_data != nullptr, d.path_of("train"),
            "required: the training data (a source or a mixture)");
    spec.data.train = *train_data;
    d.finish();
    // Built once here so a bad data spec fails before anything trains.
    const auto tokenizer =
        check_data ? data::make_tokenizer(spec.data.tokenizer, d.path_of("tokenizer")) : nullptr;
    if (check_data && data::is_shard_spec(spec.data.train))
      data::open_shards(spec.data.train, *tokenizer, d.path_of("train"));
    else if (check_data)
      data::Mixture::from_json(spec.data.train, d.path_of("train"));
    for (size_t i = 0; tokenizer && i < spec.matching.arms.size(); ++i) {
      const auto& model = spec.matching.arms[i].model;
      if (model.contains("vocab_size"))
        require(
            model["vocab_size"].get<int64_t>() >= tokenizer->vocab_size(),
            r.path_of("arms") + "[" + std::to_string(i) + "].model.vocab_size",
            "is smaller than the tokenizer's " + std::to_string(tokenizer->vocab_size()) + " ids");
    }

    const nlohmann::json& base = root["train"];
    r.mark("train");
    const auto base_settings = train::TrainSettings::from_json(base, r.path_of("train"));
    for (size_t i = 0; i < spec.matching.arms.size(); ++i) {
      const auto& arm_json = root["arms"][i];
      const auto& name = spec.matching.arms[i].name;
      if (!arm_json.contains("train")) {
        spec.train[name] = base_settings;
        continue;
      }
      nlohmann::json merged = base;
      merged.merge_patch(arm_json["train"]);
      spec.train[name] = train::TrainSettings::from_json(
          merged, r.path_of("arms") + "[" + std::to_string(i) + "].train (merged onto $.train)");
    }
  } else {
    for (size_t i = 0; i < spec.matching.arms.size(); ++i)
      require(!root["arms"][i].contains("train"),
              r.path_of("arms") + "[" + std::to_string(i) + "].train",
              "an arm's training overrides need the experiment's \"train\" and \"data\"");
  }

  if (r.has("eval")) spec.eval = parse_eval(r.child("eval"), root["eval"]);
  if (r.has("report")) {
    JsonReader rep = r.child("report");
    rep.get("reference_arm", spec.reference_arm);
    rep.finish();
    require(spec.reference_arm.empty() || arm_names.count(spec.reference_arm),
            rep.path_of("reference_arm"),
            "\"" + spec.reference_arm + "\" is not an arm of this experiment");
  }
  r.finish();
  return spec;
}

ExperimentSpec read_experiment(const std::string& file, bool check_data) {
  return parse_experiment(expand_grids(read_with_includes(file), file), file, check_data);
}

std::vector<int64_t> eval_steps(const EvalSchedule& schedule, int64_t total_steps,
                                int64_t tokens_per_step) {
  std::set<int64_t> steps;
  auto add = [&](double step) {
    steps.insert(std::clamp<int64_t>(std::llround(step), 1, total_steps));
  };
  if (!schedule.at_tokens.empty()) {
    for (const auto t : schedule.at_tokens) add(static_cast<double>(t) / tokens_per_step);
  } else {
    for (int64_t k = 0; k < schedule.checkpoints; ++k)
      add(total_steps / std::pow(schedule.ratio, k));
  }
  return {steps.begin(), steps.end()};
}

}  // namespace dreamer::experiments
