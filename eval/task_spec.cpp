#include "eval/task_spec.h"

#include <cstdlib>

#include "eval/regex.h"
#include "eval/template.h"
#include "util/fs.h"
#include "util/json_reader.h"

namespace dreamer::eval {

namespace {

const std::vector<std::pair<std::string, OutputType>>& output_type_names() {
  static const std::vector<std::pair<std::string, OutputType>> kNames = {
      {"generate_until", OutputType::kGenerateUntil},
      {"multiple_choice", OutputType::kMultipleChoice},
      {"loglikelihood_rolling", OutputType::kLoglikelihoodRolling}};
  return kNames;
}

const std::vector<std::pair<std::string, ShotSampler>>& sampler_names() {
  static const std::vector<std::pair<std::string, ShotSampler>> kNames = {
      {"first_n", ShotSampler::kFirstN}, {"random", ShotSampler::kRandom}};
  return kNames;
}

DataSpec parse_data(JsonReader r) {
  DataSpec d;
  r.get("path", d.path);
  r.get_enum<std::string>("format", d.format, {{"jsonl", "jsonl"}, {"text", "text"}});
  auto where = r.child("where");
  where.get("field", d.where_field);
  where.get("in", d.where_in);
  where.finish();
  auto syn = r.child("synthetic");
  syn.get("source", d.synthetic);
  syn.get("n", d.synthetic_n);
  syn.get("seed", d.synthetic_seed);
  if (const auto* params = syn.raw("params")) {
    if (!params->is_object()) throw InputError(syn.path_of("params"), "expected an object");
    d.synthetic_params = *params;
  }
  syn.finish();
  r.finish();
  if (d.path.empty() == d.synthetic.empty())
    throw InputError(r.path(), "give exactly one of \"path\" and \"synthetic.source\"");
  if (!d.synthetic.empty() && d.synthetic_n <= 0)
    throw InputError(r.path() + ".synthetic.n", "must be positive");
  if (d.where_field.empty() != d.where_in.empty())
    throw InputError(r.path() + ".where", "needs both \"field\" and \"in\"");
  return d;
}

}  // namespace

TaskSpec TaskSpec::from_json(const nlohmann::json& j, const std::string& path) {
  TaskSpec t;
  JsonReader r(j, path);
  r.get("name", t.name);
  r.get("version", t.version);
  r.get_enum("output_type", t.output_type, output_type_names());
  t.data = parse_data(r.child("data"));
  r.get("description", t.description);
  r.get("prompt", t.prompt);
  r.get("target", t.target);
  if (const auto* f = r.raw("target_filter")) {
    t.has_target_filter = true;
    t.target_filter = FilterSpec::from_json(*f, r.path_of("target_filter"));
  }
  {
    auto c = r.child("choices");
    c.get("field", t.choices.field);
    c.get("regex", t.choices.regex);
    c.get("list", t.choices.list);
    c.get("slice_from", t.choices.slice_from);
    c.get("rstrip", t.choices.rstrip);
    c.get("python_list_join", t.choices.python_list_join);
    c.finish();
  }
  {
    auto g = r.child("gold");
    g.get("field", t.gold.field);
    g.get("map", t.gold.map);
    g.finish();
  }
  {
    auto s = r.child("shots");
    s.get("n", t.shots.n);
    s.get_enum("sampler", t.shots.sampler, sampler_names());
    s.get("seed", t.shots.seed);
    s.get("path", t.shots.path);
    if (const auto* ex = s.raw("exemplars")) {
      if (!ex->is_array()) throw InputError(s.path_of("exemplars"), "expected an array of objects");
      for (size_t i = 0; i < ex->size(); ++i) {
        if (!(*ex)[i].is_object())
          throw InputError(s.path_of("exemplars") + "[" + std::to_string(i) + "]",
                           "expected an object (a document)");
        t.shots.exemplars.push_back((*ex)[i]);
      }
    }
    s.get("target", t.shots.target);
    s.get("unavailable", t.shots.unavailable);
    s.finish();
    if (!t.shots.path.empty() && !t.shots.exemplars.empty())
      throw InputError(s.path(), "give at most one of \"path\" and \"exemplars\"");
    if (!t.shots.unavailable.empty() && t.shots.n > 0)
      throw InputError(s.path_of("n"), "must be 0 when the pool is unavailable");
    if (t.shots.seed < 0) throw InputError(s.path_of("seed"), "must be >= 0");
  }
  r.get("target_delimiter", t.target_delimiter);
  r.get("fewshot_delimiter", t.fewshot_delimiter);
  {
    auto g = r.child("generation");
    g.get("until", t.generation.until);
    g.get("max_new_tokens", t.generation.max_new_tokens);
    g.get("do_sample", t.generation.do_sample);
    for (const char* key : {"temperature", "top_p", "top_k", "seed"})
      if (g.has(key) && !t.generation.do_sample)
        throw InputError(g.path_of(key),
                         "applies only with \"do_sample\": true (greedy otherwise)");
    g.get("temperature", t.generation.temperature);
    g.get("top_p", t.generation.top_p);
    g.get("top_k", t.generation.top_k);
    g.get("seed", t.generation.seed);
    g.finish();
    if (!(t.generation.temperature > 0))
      throw InputError(g.path_of("temperature"),
                       "must be > 0 when sampling (greedy: do_sample false)");
    if (!(t.generation.top_p > 0 && t.generation.top_p <= 1))
      throw InputError(g.path_of("top_p"), "must be in (0, 1]");
    if (t.generation.top_k < 0) throw InputError(g.path_of("top_k"), "must be >= 0");
    if (t.generation.seed < 0) throw InputError(g.path_of("seed"), "must be >= 0");
  }
  r.get("repeats", t.repeats);
  r.get("gen_prefix", t.gen_prefix);
  if (const auto* filters = r.raw("filters")) {
    if (!filters->is_array())
      throw InputError(r.path_of("filters"), "expected an array of filter objects");
    for (size_t i = 0; i < filters->size(); ++i) {
      const std::string where = r.path_of("filters") + "[" + std::to_string(i) + "]";
      t.filters.push_back(FilterSpec::from_json((*filters)[i], where));
      Filter check(t.filters.back(), where);  // compile the regex now, not mid-run
      // Each filter's score is stored as "exact_match,<name>": two alike would overwrite.
      for (size_t j = 0; j + 1 < t.filters.size(); ++j)
        if (t.filters[j].name == t.filters.back().name)
          throw InputError(where + ".name", "filter name \"" + t.filters[j].name +
                                                "\" is used twice (each names a stored score)");
    }
  }
  if (const auto* m = r.raw("match")) t.match = MatchSpec::from_json(*m, r.path_of("match"));
  AnswerMatcher check_match(t.match, r.path_of("match"));
  r.get("max_length", t.max_length);
  r.get("metrics", t.metrics);
  r.get("notes", t.notes);
  r.finish();

  // Cross-field checks, each naming the field to fix.
  if (t.name.empty()) throw InputError(r.path_of("name"), "missing");
  if (t.prompt.empty()) throw InputError(r.path_of("prompt"), "missing");
  check_template(t.prompt, r.path_of("prompt"));
  check_template(t.target, r.path_of("target"));
  check_template(t.description, r.path_of("description"));
  check_template(t.shots.target, r.path_of("shots.target"));
  check_template(t.gen_prefix, r.path_of("gen_prefix"));
  if (t.repeats < 1) throw InputError(r.path_of("repeats"), "must be >= 1");
  if (!t.shots.exemplars.empty() && t.shots.n > static_cast<int64_t>(t.shots.exemplars.size()))
    throw InputError(r.path_of("shots.n"),
                     "exceeds the " + std::to_string(t.shots.exemplars.size()) + " exemplars");
  for (const auto& m : t.metrics)
    if (m != "acc" && m != "acc_norm" && m != "acc_bytes")
      throw InputError(r.path_of("metrics"),
                       "expected metrics among {acc, acc_norm, acc_bytes}, got \"" + m + "\"");
  if (t.shots.n < 0) throw InputError(r.path_of("shots.n"), "must be >= 0");
  const bool mc = t.output_type == OutputType::kMultipleChoice;
  if (mc) {
    if (t.choices.field.empty() == t.choices.list.empty())
      throw InputError(r.path_of("choices"), "give exactly one of \"field\" and \"list\"");
    if (t.gold.field.empty())
      throw InputError(r.path_of("gold.field"), "multiple_choice needs the gold field");
    if (!t.choices.regex.empty()) compile_regex(t.choices.regex, r.path_of("choices.regex"));
  } else if (!t.choices.field.empty() || !t.choices.list.empty() || !t.gold.field.empty()) {
    throw InputError(r.path_of("choices"), "choices and gold are for multiple_choice tasks only");
  }
  if (t.output_type == OutputType::kGenerateUntil) {
    if (t.target.empty())
      throw InputError(r.path_of("target"), "generate_until needs a target template");
    if (t.filters.empty()) t.filters.push_back(FilterSpec{});  // score the whole output
    if (t.generation.max_new_tokens <= 0)
      throw InputError(r.path_of("generation.max_new_tokens"), "must be positive");
    for (size_t i = 0; i < t.filters.size(); ++i) {
      const auto& f = t.filters[i];
      const std::string where = r.path_of("filters") + "[" + std::to_string(i) + "]";
      if (f.take_first_k > t.repeats)
        throw InputError(where + ".take_first_k",
                         "exceeds the " + std::to_string(t.repeats) + " responses (repeats)");
      const int64_t n = f.take_first_k > 0 ? f.take_first_k : t.repeats;
      if (f.reduce == Reduction::kPassAtK && f.k > n)
        throw InputError(where + ".k", "pass@" + std::to_string(f.k) + " needs at least " +
                                           std::to_string(f.k) + " responses, the filter has " +
                                           std::to_string(n));
    }
    if (t.repeats > 1 && !t.generation.do_sample)
      throw InputError(r.path_of("repeats"),
                       "greedy decoding gives the same response every time: set "
                       "generation.do_sample (and a temperature)");
  } else if (!t.filters.empty() || !t.generation.until.empty() || t.repeats != 1 ||
             t.generation.do_sample) {
    const char* key = t.repeats != 1 ? "repeats" : !t.filters.empty() ? "filters" : "generation";
    throw InputError(r.path_of(key),
                     "filters, repeats and generation are for generate_until tasks only");
  }
  if (!t.gen_prefix.empty() && t.output_type == OutputType::kLoglikelihoodRolling)
    throw InputError(r.path_of("gen_prefix"), "loglikelihood_rolling documents take no gen_prefix");
  if (t.output_type == OutputType::kLoglikelihoodRolling && t.shots.n > 0)
    throw InputError(r.path_of("shots"), "loglikelihood_rolling takes no shots");
  if (t.max_length < 2) throw InputError(r.path_of("max_length"), "must be >= 2");
  return t;
}

nlohmann::json TaskSpec::to_json() const {
  nlohmann::json j = {{"name", name},
                      {"version", version},
                      {"output_type", enum_name(output_type, output_type_names())},
                      {"description", description},
                      {"prompt", prompt},
                      {"target", target},
                      {"shots",
                       {{"n", shots.n},
                        {"sampler", enum_name(shots.sampler, sampler_names())},
                        {"seed", shots.seed},
                        {"path", shots.path},
                        {"exemplars", shots.exemplars},
                        {"target", shots.target},
                        {"unavailable", shots.unavailable}}},
                      {"notes", notes},
                      {"target_delimiter", target_delimiter},
                      {"fewshot_delimiter", fewshot_delimiter}};
  nlohmann::json d = {{"format", data.format}};
  if (!data.path.empty()) d["path"] = data.path;
  if (!data.where_field.empty()) d["where"] = {{"field", data.where_field}, {"in", data.where_in}};
  if (!data.synthetic.empty())
    d["synthetic"] = {{"source", data.synthetic},
                      {"n", data.synthetic_n},
                      {"seed", data.synthetic_seed},
                      {"params", data.synthetic_params}};
  j["data"] = d;
  if (has_target_filter) j["target_filter"] = target_filter.to_json();
  if (output_type == OutputType::kMultipleChoice) {
    j["choices"] = {{"field", choices.field},   {"regex", choices.regex},
                    {"list", choices.list},     {"slice_from", choices.slice_from},
                    {"rstrip", choices.rstrip}, {"python_list_join", choices.python_list_join}};
    j["gold"] = {{"field", gold.field}, {"map", gold.map}};
    j["metrics"] = metrics;
  }
  if (output_type == OutputType::kGenerateUntil) {
    j["generation"] = {{"until", generation.until}, {"max_new_tokens", generation.max_new_tokens}};
    // New keys only when used: the stored specs (and fingerprints) of greedy tasks stay as they
    // were.
    if (generation.do_sample) {
      j["generation"]["do_sample"] = true;
      j["generation"]["temperature"] = generation.temperature;
      j["generation"]["top_p"] = generation.top_p;
      j["generation"]["top_k"] = generation.top_k;
      j["generation"]["seed"] = generation.seed;
    }
    if (repeats != 1) j["repeats"] = repeats;
    j["filters"] = nlohmann::json::array();
    for (const auto& f : filters) j["filters"].push_back(f.to_json());
    j["match"] = match.to_json();
  }
  if (output_type == OutputType::kLoglikelihoodRolling) j["max_length"] = max_length;
  if (!gen_prefix.empty()) j["gen_prefix"] = gen_prefix;
  return j;
}

GroupSpec GroupSpec::from_json(const nlohmann::json& j, const std::string& path) {
  GroupSpec g;
  JsonReader r(j, path);
  r.get("group", g.name);
  r.get("version", g.version);
  r.get("tasks", g.tasks);
  r.get("aggregate", g.aggregate);
  r.get("notes", g.notes);
  r.finish();
  if (g.name.empty()) throw InputError(r.path_of("group"), "missing");
  if (g.tasks.empty()) throw InputError(r.path_of("tasks"), "a group needs at least one task");
  return g;
}

nlohmann::json read_task_json(const std::string& file) {
  std::vector<std::string> chain = {file};
  nlohmann::json j = read_json_file(file);
  while (j.is_object() && j.contains("include")) {
    if (!j["include"].is_string())
      throw InputError(chain.back() + ":$.include", "expected a file name");
    const auto base_file = fs::join(fs::parent_path(chain.back()), j["include"].get<std::string>());
    for (const auto& seen : chain)
      if (seen == base_file) throw InputError(base_file, "includes itself");
    if (!fs::exists(base_file))
      throw InputError(chain.back() + ":$.include", "no such file " + base_file);
    chain.push_back(base_file);
    nlohmann::json base = read_json_file(base_file);
    if (!base.is_object()) throw InputError(base_file, "expected a JSON object");
    j.erase("include");
    base.merge_patch(j);
    j = std::move(base);
  }
  return j;
}

std::string find_task_file(const std::string& name_or_path,
                           const std::vector<std::string>& search_dirs) {
  if (name_or_path.size() > 5 && name_or_path.substr(name_or_path.size() - 5) == ".json") {
    if (!fs::exists(name_or_path))
      throw InputError("--task", "task file " + name_or_path + " does not exist");
    return name_or_path;
  }
  std::string looked;
  for (const auto& dir : search_dirs) {
    const auto candidate = fs::join(dir, name_or_path + ".json");
    if (fs::exists(candidate)) return candidate;
    looked += (looked.empty() ? "" : ", ") + dir;
  }
  throw InputError("--task", "unknown task \"" + name_or_path + "\" (looked for " + name_or_path +
                                 ".json in: " + looked + ")");
}

TaskSpec load_task(const std::string& name_or_path, const std::vector<std::string>& search_dirs) {
  const auto file = find_task_file(name_or_path, search_dirs);
  const auto j = read_task_json(file);
  if (j.is_object() && j.contains("group"))
    throw InputError(file,
                     "is a group of tasks (\"group\"), not one task; dreamer eval runs "
                     "groups, or name one of its tasks");
  return TaskSpec::from_json(j, file + ":$");
}

TaskSelection load_tasks(const std::string& name_or_path,
                         const std::vector<std::string>& search_dirs) {
  const auto file = find_task_file(name_or_path, search_dirs);
  const auto j = read_task_json(file);
  TaskSelection selection;
  if (!(j.is_object() && j.contains("group"))) {
    selection.tasks.push_back(TaskSpec::from_json(j, file + ":$"));
    return selection;
  }
  selection.group = GroupSpec::from_json(j, file + ":$");
  for (const auto& name : selection.group->tasks)
    selection.tasks.push_back(load_task(name, search_dirs));
  return selection;
}

std::vector<std::string> task_search_dirs(const std::string& extra) {
  std::vector<std::string> dirs;
  if (!extra.empty()) dirs.push_back(extra);
  if (const char* env = std::getenv("DREAMER_TASKS_DIR"); env && *env) dirs.push_back(env);
  dirs.push_back("eval/tasks");
#ifdef DREAMER_SOURCE_DIR
  dirs.push_back(std::string(DREAMER_SOURCE_DIR) + "/eval/tasks");
#endif
  return dirs;
}

}  // namespace dreamer::eval
