#include "data/synthetic_task.h"

#include <stdexcept>

#include "data/seeding.h"
#include "util/json_reader.h"

namespace dreamer::data {

namespace {

const std::vector<std::pair<std::string, Split>> kSplits = {
    {"train", Split::kTrain}, {"test_id", Split::kTestId}, {"test_ood", Split::kTestOod}};

// A registered task: its knobs (name -> default) and how to generate with them.
struct TaskEntry {
  std::string name;
  nlohmann::json knobs;  // every accepted knob with its default
  std::function<Example(std::mt19937_64&, int, const nlohmann::json&)> generate;
};

const std::vector<TaskEntry>& registry() {
  static const std::vector<TaskEntry> entries = {
      {"modular_arithmetic",
       {{"modulus", 10}},
       [](std::mt19937_64& rng, int steps, const nlohmann::json& k) {
         return modular_arithmetic(rng, steps, k["modulus"].get<int>());
       }},
      {"variable_tracking",
       {{"distractors", 3}},
       [](std::mt19937_64& rng, int steps, const nlohmann::json& k) {
         return variable_tracking(rng, steps, k["distractors"].get<int>());
       }},
      {"multi_digit_addition", nlohmann::json::object(),
       [](std::mt19937_64& rng, int steps, const nlohmann::json&) {
         return multi_digit_addition(rng, steps);
       }},
      {"graph_reachability",
       {{"branches", 1}},
       [](std::mt19937_64& rng, int steps, const nlohmann::json& k) {
         return graph_reachability(rng, steps, k["branches"].get<int>());
       }},
  };
  return entries;
}

const TaskEntry& find_task(const std::string& name, const std::string& where) {
  for (const auto& e : registry())
    if (e.name == name) return e;
  std::string names;
  for (const auto& n : task_names()) names += (names.empty() ? "" : ", ") + n;
  throw InputError(where, "unknown task \"" + name + "\"; expected one of {" + names + "}");
}

void read_range(JsonReader& reader, const std::string& key, int& lo, int& hi) {
  if (!reader.has(key)) return;
  std::vector<int64_t> range;
  reader.get(key, range);
  if (range.size() != 2 || range[0] < 1 || range[0] > range[1])
    throw InputError(reader.path_of(key), "expected [min, max] with 1 <= min <= max");
  lo = static_cast<int>(range[0]);
  hi = static_cast<int>(range[1]);
}

}  // namespace

bool in_held_out_bucket(const std::string& prompt) {
  // Hash of the prompt alone, so the train/test_id partition does not depend on seeds.
  return splitmix64(fnv1a64(prompt)) % kHeldOutBuckets == 0;
}

std::vector<std::string> task_names() {
  std::vector<std::string> names;
  for (const auto& e : registry()) names.push_back(e.name);
  return names;
}

TaskSpec TaskSpec::from_json(const nlohmann::json& json, const std::string& path) {
  JsonReader reader(json, path);
  TaskSpec spec;
  if (!reader.has("task")) throw InputError(reader.path_of("task"), "missing (the task's name)");
  reader.get("task", spec.task);
  const std::string task_path =
      reader.path_of("task");  // outlives the call (g++ 13 warns otherwise)
  const TaskEntry& entry = find_task(spec.task, task_path);
  read_range(reader, "steps", spec.min_steps, spec.max_steps);
  read_range(reader, "ood_steps", spec.ood_min_steps, spec.ood_max_steps);
  reader.get_enum("split", spec.split, kSplits);
  int64_t seed = 0;
  reader.get("seed", seed);
  if (seed < 0) throw InputError(reader.path_of("seed"), "expected a non-negative integer");
  spec.seed = static_cast<uint64_t>(seed);
  spec.params = entry.knobs;
  for (auto it = entry.knobs.begin(); it != entry.knobs.end(); ++it) {
    int value = it.value().get<int>();
    reader.get(it.key(), value);
    spec.params[it.key()] = value;
  }
  reader.finish();
  if (spec.ood_min_steps == 0) {
    spec.ood_min_steps = spec.max_steps + 1;
    spec.ood_max_steps = 2 * spec.max_steps;
  }
  if (spec.ood_min_steps <= spec.max_steps)
    throw InputError(
        reader.path_of("ood_steps"),
        "must start above the training range (max steps " + std::to_string(spec.max_steps) + ")");
  return spec;
}

nlohmann::json TaskSpec::to_json() const {
  nlohmann::json j = {{"task", task},
                      {"steps", {min_steps, max_steps}},
                      {"ood_steps", {ood_min_steps, ood_max_steps}},
                      {"split", enum_name(split, kSplits)},
                      {"seed", seed}};
  j.update(params);
  return j;
}

SyntheticTask::SyntheticTask(TaskSpec spec, const std::string& path) : spec_(std::move(spec)) {
  const std::string task_path = path + ".task";
  const TaskEntry& entry = find_task(spec_.task, task_path);
  const nlohmann::json knobs = spec_.params;
  generate_ = [generate = entry.generate, knobs](std::mt19937_64& rng, int steps) {
    return generate(rng, steps, knobs);
  };
  // Generate once at both ends of every range the spec names, so an impossible combination
  // (e.g. more variables than letters) fails now, with a path, not mid-training.
  std::mt19937_64 rng(0);
  for (int steps : {spec_.min_steps, spec_.max_steps, spec_.ood_min_steps, spec_.ood_max_steps}) {
    try {
      generate_(rng, steps);
    } catch (const std::invalid_argument& e) {
      throw InputError(path, std::string(e.what()) + " (at " + std::to_string(steps) + " steps)");
    }
  }
  // A tiny prompt space may have no prompt on this split's side of the held-out partition.
  try {
    example(0);
  } catch (const std::runtime_error& e) {
    throw InputError(path, e.what());
  }
}

std::pair<int, int> SyntheticTask::step_range() const {
  if (spec_.split == Split::kTestOod) return {spec_.ood_min_steps, spec_.ood_max_steps};
  return {spec_.min_steps, spec_.max_steps};
}

Example SyntheticTask::example(uint64_t index, uint64_t stream_seed) const {
  const uint64_t split_tag = static_cast<uint64_t>(spec_.split) + 1;
  std::mt19937_64 rng(mix_seed(mix_seed(mix_seed(spec_.seed, stream_seed), split_tag), index));
  const auto [lo, hi] = step_range();
  std::uniform_int_distribution<int> steps(lo, hi);
  if (spec_.split == Split::kTestOod) return generate_(rng, steps(rng));
  // Rejection sampling into the split's side of the prompt partition.
  const bool want_held_out = spec_.split == Split::kTestId;
  for (int attempt = 0; attempt < 100000; ++attempt) {
    Example ex = generate_(rng, steps(rng));
    if (in_held_out_bucket(ex.prompt) == want_held_out) return ex;
  }
  throw std::runtime_error("synthetic task " + spec_.task +
                           ": prompt space too small to hold out a test_id bucket");
}

std::vector<Example> SyntheticTask::examples(uint64_t count, uint64_t stream_seed) const {
  std::vector<Example> out;
  out.reserve(count);
  for (uint64_t i = 0; i < count; ++i) out.push_back(example(i, stream_seed));
  return out;
}

}  // namespace dreamer::data
