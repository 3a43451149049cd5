#include "results/experiment_data.h"

#include <map>
#include <tuple>

#include "eval/metrics.h"
#include "util/errors.h"

namespace dreamer::results {

namespace {

// The migration (results/store.cpp) that created experiments, runs and checkpoints.
constexpr int64_t kExperimentSchemaVersion = 2;

std::optional<double> optional_number(const Cell& cell) {
  return cell.number();
}

int64_t integer(const Cell& cell) {
  return cell.type == Cell::Type::kInteger ? cell.integer
                                           : static_cast<int64_t>(cell.number().value_or(0));
}

CheckpointRef checkpoint_ref(const Cell& name, const Cell& tokens) {
  CheckpointRef ref{name.to_string(), std::nullopt};
  if (!tokens.is_null()) ref.tokens = integer(tokens);
  return ref;
}

// Attaches each eval row's per-item outcomes (one query for the whole experiment).
void load_experiment_items(const ReadOnlyDatabase& db, ExperimentData& data) {
  if (!db.has_table("eval_samples")) return;
  std::map<std::tuple<std::string, std::string, std::string, int64_t>, EvalRecord*> by_key;
  for (auto& e : data.evals) by_key[{e.run_id, e.checkpoint.name, e.task, e.depth}] = &e;
  std::map<EvalRecord*, bool> unusable;  // a sample without the metric's outcome
  const auto tasks = [&] {
    std::map<std::string, std::string> metric;
    for (const auto& t : data.tasks) metric[t.task] = t.metric;
    return metric;
  }();
  for (const auto& row : db.query(R"sql(
      SELECT s.run_id, s.checkpoint, s.task, s.depth, s.doc_index, s.prompt, s.details_json
      FROM eval_samples s JOIN runs r ON r.run_id = s.run_id
      WHERE r.experiment = ?1
      ORDER BY s.run_id, s.checkpoint, s.task, s.depth, s.doc_index)sql",
                                  {data.name})
                             .rows) {
    auto it =
        by_key.find({row[0].to_string(), row[1].to_string(), row[2].to_string(), integer(row[3])});
    if (it == by_key.end() || unusable.count(it->second)) continue;
    const auto details = nlohmann::json::parse(row[6].to_string(), nullptr, false);
    const auto value = item_outcome(tasks.at(it->second->task), details, row[5].to_string());
    if (!value) {
      unusable[it->second] = true;
      it->second->items.clear();
      continue;
    }
    it->second->items.push_back(
        {integer(row[4]), prompt_hash(row[5].to_string()), value->value, value->weight});
  }
  for (auto& e : data.evals)
    if (static_cast<int64_t>(e.items.size()) != e.n) e.items.clear();
}

}  // namespace

bool earlier_checkpoint(const CheckpointRef& a, const CheckpointRef& b) {
  if (a.tokens.has_value() != b.tokens.has_value()) return !a.tokens.has_value();
  if (a.tokens != b.tokens) return *a.tokens < *b.tokens;
  return a.name < b.name;
}

std::vector<std::string> experiment_names(const ReadOnlyDatabase& db) {
  if (!db.has_table("schema_version"))
    throw InputError(db.file(), "not a Dreamer Bench results database (no schema_version table)");
  const auto version = db.query("SELECT COALESCE(MAX(version), 0) FROM schema_version");
  const int64_t v = version.rows.empty() ? 0 : integer(version.rows[0][0]);
  if (v < kExperimentSchemaVersion || !db.has_table("experiments") || !db.has_table("runs"))
    throw InputError(db.file(), "results schema version " + std::to_string(v) +
                                    " has no experiments or runs tables (needs version " +
                                    std::to_string(kExperimentSchemaVersion) +
                                    "; a current dreamer upgrades the file when it writes to it)");
  std::vector<std::string> names;
  for (const auto& row : db.query("SELECT name FROM experiments ORDER BY name").rows)
    names.push_back(row[0].to_string());
  return names;
}

ExperimentData load_experiment(const ReadOnlyDatabase& db, const std::string& name) {
  ExperimentData data;
  data.name = name;
  const auto experiment = db.query("SELECT reference_arm FROM experiments WHERE name = ?1", {name});
  if (experiment.rows.empty()) throw InputError(db.file(), "no experiment named \"" + name + "\"");
  if (!experiment.rows[0][0].is_null()) data.reference_arm = experiment.rows[0][0].to_string();

  for (const auto& row : db.query(R"sql(
      SELECT task, metric, higher_is_better FROM experiment_tasks WHERE experiment = ?1
      ORDER BY task)sql",
                                  {name})
                             .rows)
    // The metric table decides the direction: databases written before it stored perplexities
    // as higher-is-better. The stored flag only speaks for names the eval code does not emit.
    data.tasks.push_back({row[0].to_string(), row[1].to_string(),
                          eval::higher_is_better(row[1].to_string(), integer(row[2]) != 0)});

  for (const auto& row : db.query(R"sql(
      SELECT run_id, arm, seed, family, params, active_params, flops_per_token, memory_bytes,
             default_depth, status, tokens_trained
      FROM runs WHERE experiment = ?1 ORDER BY arm, seed, run_id)sql",
                                  {name})
                             .rows) {
    RunRecord r;
    r.run_id = row[0].to_string();
    r.arm = row[1].to_string();
    r.seed = integer(row[2]);
    r.family = row[3].to_string();
    r.params = optional_number(row[4]);
    r.active_params = optional_number(row[5]);
    r.flops_per_token = optional_number(row[6]);
    r.memory_bytes = optional_number(row[7]);
    r.default_depth = integer(row[8]);
    r.status = row[9].to_string();
    r.tokens_trained = integer(row[10]);
    data.runs.push_back(std::move(r));
  }

  // Only the metric each task reports; checkpoint tokens from `checkpoints` when it has them.
  for (const auto& row : db.query(R"sql(
      SELECT e.run_id, e.checkpoint, c.tokens, e.task, e.depth, CAST(e.value AS REAL), e.stderr,
             e.n
      FROM eval_results e
      JOIN runs r ON r.run_id = e.run_id
      JOIN experiment_tasks t
        ON t.experiment = r.experiment AND t.task = e.task AND t.metric = e.metric
      LEFT JOIN checkpoints c ON c.run_id = e.run_id AND c.name = e.checkpoint
      WHERE r.experiment = ?1 AND e.value IS NOT NULL)sql",
                                  {name})
                             .rows)
    data.evals.push_back({row[0].to_string(),
                          checkpoint_ref(row[1], row[2]),
                          row[3].to_string(),
                          integer(row[4]),
                          *row[5].number(),
                          optional_number(row[6]),
                          integer(row[7]),
                          {}});
  load_experiment_items(db, data);

  for (const auto& row : db.query(R"sql(
      SELECT m.run_id, m.checkpoint, c.tokens, m.task, m.site, m.depth, m.metric,
             CAST(m.value AS REAL)
      FROM expert_metrics m
      JOIN runs r ON r.run_id = m.run_id AND m.recurrences = r.default_depth
      LEFT JOIN checkpoints c ON c.run_id = m.run_id AND c.name = m.checkpoint
      WHERE r.experiment = ?1 AND m.value IS NOT NULL)sql",
                                  {name})
                             .rows)
    data.expert_metrics.push_back({row[0].to_string(), checkpoint_ref(row[1], row[2]),
                                   row[3].to_string(), row[4].to_string(), integer(row[5]),
                                   row[6].to_string(), *row[7].number()});
  return data;
}

std::vector<TrainPoint> load_train_loss(const ReadOnlyDatabase& db, const std::string& experiment) {
  std::vector<TrainPoint> points;
  for (const auto& row : db.query(R"sql(
      SELECT t.run_id, t.tokens, t.loss FROM train_metrics t JOIN runs r ON r.run_id = t.run_id
      WHERE r.experiment = ?1 ORDER BY r.arm, r.seed, t.run_id, t.step)sql",
                                  {experiment})
                             .rows)
    points.push_back(
        {row[0].to_string(), row[1].number().value_or(0), row[2].number().value_or(0)});
  return points;
}

std::vector<ExpertCountRecord> load_last_expert_counts(const ReadOnlyDatabase& db,
                                                       const ExperimentData& experiment) {
  // Pick each run's last checkpoint first, so only its counts are read.
  std::map<std::string, CheckpointRef> last;
  for (const auto& row : db.query(R"sql(
      SELECT DISTINCT x.run_id, x.checkpoint, c.tokens
      FROM expert_counts x
      JOIN runs r ON r.run_id = x.run_id AND x.recurrences = r.default_depth
      LEFT JOIN checkpoints c ON c.run_id = x.run_id AND c.name = x.checkpoint
      WHERE r.experiment = ?1)sql",
                                  {experiment.name})
                             .rows) {
    const auto ref = checkpoint_ref(row[1], row[2]);
    auto [it, inserted] = last.emplace(row[0].to_string(), ref);
    if (!inserted && earlier_checkpoint(it->second, ref)) it->second = ref;
  }
  std::vector<ExpertCountRecord> counts;
  for (const auto& [run_id, checkpoint] : last)
    for (const auto& row : db.query(R"sql(
        SELECT x.task, x.site, x.depth, x.expert_id, x.count
        FROM expert_counts x JOIN runs r ON r.run_id = x.run_id
        WHERE x.run_id = ?1 AND x.checkpoint = ?2 AND x.recurrences = r.default_depth
        ORDER BY x.task, x.site, x.depth, x.expert_id)sql",
                                    {run_id, checkpoint.name})
                               .rows)
      counts.push_back({run_id, row[0].to_string(), row[1].to_string(), integer(row[2]),
                        integer(row[3]), integer(row[4])});
  return counts;
}

}  // namespace dreamer::results
