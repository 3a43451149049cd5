#include "tests/results/report_fixture.h"

#include <optional>
#include <tuple>
#include <vector>

#include "results/store.h"
#include "tests/test_util.h"

namespace dreamer::testing {

namespace {

using results::Database;
using results::Statement;

void run(Database& db, const std::string& id, const std::string& experiment, const std::string& arm,
         int64_t seed, const std::string& family, double params, double active, double flops,
         double memory, int64_t default_depth, const std::string& status, int64_t tokens) {
  Statement(db, R"sql(
      INSERT INTO runs(run_id, experiment, arm, seed, family, config_json, train_json, params,
                       active_params, flops_per_token, memory_bytes, default_depth, status,
                       tokens_trained)
      VALUES (?1, ?2, ?3, ?4, ?5, '{}', '{}', ?6, ?7, ?8, ?9, ?10, ?11, ?12))sql")
      .bind_all(id, experiment, arm, seed, family, params, active, flops, memory, default_depth,
                status, tokens)
      .run();
}

void checkpoint(Database& db, const std::string& id, const std::string& name, int64_t tokens) {
  Statement(db, R"sql(
      INSERT INTO checkpoints(run_id, name, step, tokens, path, created_at)
      VALUES (?1, ?2, ?3, ?4, '/ck', '2024-01-01'))sql")
      .bind_all(id, name, tokens / 100, tokens)
      .run();
}

void eval(Database& db, const std::string& id, const std::string& ck, const std::string& task,
          int64_t depth, const std::string& metric, double value,
          std::optional<double> stderr_ = std::nullopt) {
  Statement(db, R"sql(
      INSERT INTO eval_results(run_id, checkpoint, task, depth, metric, value, n, stderr,
                               settings_json, created_at)
      VALUES (?1, ?2, ?3, ?4, ?5, ?6, 100, ?7, '{}', '2024-01-01'))sql")
      .bind_all(id, ck, task, depth, metric, value, stderr_)
      .run();
}

// 100 eval_samples rows of a task scored by `acc`: document i (prompt "question i") is
// correct when correct(i). The rows' eval_results value must be the share of correct ones.
template <typename Correct>
void samples(Database& db, const std::string& id, const std::string& ck, const std::string& task,
             int64_t depth, Correct correct) {
  Statement insert(db, R"sql(
      INSERT INTO eval_samples(run_id, checkpoint, task, depth, doc_index, prompt, output,
                               details_json)
      VALUES (?1, ?2, ?3, ?4, ?5, ?6, '', ?7))sql");
  for (int64_t i = 0; i < 100; ++i)
    insert
        .bind_all(id, ck, task, depth, i, "question " + std::to_string(i),
                  std::string(correct(i) ? R"({"acc": true})" : R"({"acc": false})"))
        .run();
}

// The first k of the 100 documents correct.
auto first(int64_t k) {
  return [k](int64_t i) { return i < k; };
}

void expert_metric(Database& db, const std::string& id, const std::string& ck,
                   const std::string& task, int64_t recurrences, int64_t depth,
                   const std::string& metric, double value) {
  Statement(db, R"sql(
      INSERT INTO expert_metrics(run_id, checkpoint, task, recurrences, site, depth, metric, value)
      VALUES (?1, ?2, ?3, ?4, 'ffn', ?5, ?6, ?7))sql")
      .bind_all(id, ck, task, recurrences, depth, metric, value)
      .run();
}

void expert_counts(Database& db, const std::string& id, const std::string& ck, int64_t recurrences,
                   int64_t depth, std::vector<int64_t> counts) {
  for (size_t e = 0; e < counts.size(); ++e)
    Statement(db, R"sql(
        INSERT INTO expert_counts(run_id, checkpoint, task, recurrences, site, depth, expert_id,
                                  count)
        VALUES (?1, ?2, 'arith', ?3, 'ffn', ?4, ?5, ?6))sql")
        .bind_all(id, ck, recurrences, depth, static_cast<int64_t>(e), counts[e])
        .run();
}

void train(Database& db, const std::string& id,
           const std::vector<std::pair<int64_t, double>>& rows) {
  int64_t step = 0;
  for (const auto& [tokens, loss] : rows)
    Statement(db, "INSERT INTO train_metrics(run_id, step, tokens, loss) VALUES (?1, ?2, ?3, ?4)")
        .bind_all(id, ++step, tokens, loss)
        .run();
}

}  // namespace

void fill_report_db(const std::string& file) {
  results::ResultStore store(file);
  Database& db = store.db();
  results::Transaction tx(db);  // one commit instead of one per row: the tests stay fast
  db.exec(R"sql(
      INSERT INTO experiments(name, file, spec_json, reference_arm, created_at, updated_at) VALUES
        ('exp', 'exp.json', '{}', 'dense', '2024-01-01', '2024-01-01'),
        ('other', 'other.json', '{}', NULL, '2024-01-01', '2024-01-01'),
        ('pending', 'pending.json', '{}', 'waiting', '2024-01-01', '2024-01-01');
      INSERT INTO experiment_tasks(experiment, task, metric, higher_is_better) VALUES
        ('exp', 'arith', 'acc', 1), ('exp', 'logic', 'acc', 1),
        ('exp', 'ppl', 'bits_per_byte', 0), ('other', 'arith', 'acc', 1),
        ('pending', 'arith', 'acc', 1);
  )sql");
  const std::string d0 = "exp/dense/seed0", d1 = "exp/dense/seed1", r0 = "exp/dreamer/seed0",
                    r1 = "exp/dreamer/seed1", m0 = "exp/moe/seed0";
  const double MiB = 1024.0 * 1024.0;
  run(db, d0, "exp", "dense", 0, "dense_transformer", 1.2e6, 1.2e6, 3.4e9, 512 * MiB, 1, "finished",
      400);
  run(db, d1, "exp", "dense", 1, "dense_transformer", 1.2e6, 1.2e6, 3.4e9, 512 * MiB, 1, "finished",
      400);
  run(db, r0, "exp", "dreamer", 0, "dreamer", 1.0e6, 5.0e5, 2.0e9, 1536 * MiB, 4, "finished", 400);
  run(db, r1, "exp", "dreamer", 1, "dreamer", 1.0e6, 5.0e5, 2.0e9, 1536 * MiB, 4, "finished", 400);
  run(db, m0, "exp", "moe", 0, "moe_transformer", 2.0e6, 8.0e5, 1.5e9, 768 * MiB, 1, "running",
      200);
  run(db, "other/solo/seed0", "other", "solo", 0, "dense_transformer", 1e5, 1e5, 1e8, MiB, 1,
      "finished", 50);
  run(db, "pending/waiting/seed0", "pending", "waiting", 0, "dense_transformer", 1e5, 1e5, 1e8, MiB,
      1, "planned", 0);  // nothing trained or evaluated yet
  for (const auto& id : {d0, d1, r0, r1, m0}) {
    checkpoint(db, id, "ck100", 100);
    checkpoint(db, id, "ck200", 200);
    if (id != m0) checkpoint(db, id, "ck400", 400);
  }
  checkpoint(db, "other/solo/seed0", "ck50", 50);
  eval(db, "other/solo/seed0", "ck50", "arith", 1, "acc", 0.25);

  // arith (acc). dense: seed means 0.1, 0.3, 0.5; final 0.500.
  for (auto [id, a, b, c] : {std::tuple{d0, 0.08, 0.28, 0.48}, std::tuple{d1, 0.12, 0.32, 0.52}}) {
    eval(db, id, "ck100", "arith", 1, "acc", a);
    eval(db, id, "ck200", "arith", 1, "acc", b);
    eval(db, id, "ck400", "arith", 1, "acc", c, 0.05);
  }
  // dreamer (default depth 4): seed means 0.2, 0.6, 0.7: reaches 0.5 3/4 of the way from 100
  // to 200 in log(tokens), at 100 * 2^0.75 = 168.18; the reference at 400: ratio 2.38x. Final
  // 0.700.
  for (auto [id, a, b, c] : {std::tuple{r0, 0.18, 0.58, 0.68}, std::tuple{r1, 0.22, 0.62, 0.72}}) {
    eval(db, id, "ck100", "arith", 4, "acc", a);
    eval(db, id, "ck200", "arith", 4, "acc", b);
    eval(db, id, "ck400", "arith", 4, "acc", c, 0.05);
  }
  // Per-item samples of every arith row of dense and dreamer above: the first 100 * value
  // documents correct, so at ck400 seed 0 dense has 0..47 right and dreamer 0..67: 20
  // documents only dreamer gets right and none only dense, in each seed (seed 1: 0..51, 0..71).
  // Pooled over the two seed pairs McNemar has 40 vs 0 discordant: p = 2 / 2^40 < 0.0001;
  // difference +0.200. The ratio's interval: in every resample the dense curve reaches its
  // final value (0.5, sd about 0.04) at 400 tokens, and dreamer (0.2, 0.6, 0.7 with the same
  // sd) crosses it between 100 and 200 tokens (ratio 2 to 4), or in the few resamples where
  // its 200-token value falls short, between 200 and 400 (ratio 1 to 2): the interval lies
  // inside (1, 4] and excludes 1.
  for (auto [id, depth, a, b, c] : {std::tuple{d0, 1, 8, 28, 48}, std::tuple{d1, 1, 12, 32, 52},
                                    std::tuple{r0, 4, 18, 58, 68}, std::tuple{r1, 4, 22, 62, 72}}) {
    samples(db, id, "ck100", "arith", depth, first(a));
    samples(db, id, "ck200", "arith", depth, first(b));
    samples(db, id, "ck400", "arith", depth, first(c));
  }
  // Depth sweep at the last checkpoint: depth 1 mean 0.300, depth 8 mean 0.750. The depth-1
  // score at ck200 (0.9) is not the last checkpoint and must not show.
  eval(db, r0, "ck400", "arith", 1, "acc", 0.29);
  eval(db, r1, "ck400", "arith", 1, "acc", 0.31);
  eval(db, r0, "ck400", "arith", 8, "acc", 0.74);
  eval(db, r1, "ck400", "arith", 8, "acc", 0.76);
  eval(db, r0, "ck200", "arith", 1, "acc", 0.9);
  // Samples of the sweep: depth 8 vs depth 1 has 74 - 29 = 45 and 76 - 31 = 45 documents only
  // depth 8 gets right, none the other way: McNemar 90 vs 0, p < 0.0001, difference +0.450.
  samples(db, r0, "ck400", "arith", 1, first(29));
  samples(db, r1, "ck400", "arith", 1, first(31));
  samples(db, r0, "ck400", "arith", 8, first(74));
  samples(db, r1, "ck400", "arith", 8, first(76));
  // moe, one seed: 0.1, 0.2 never reaches 0.5: ratio < 400/200 = 2.00x. Final 0.200, no
  // samples: normal interval 0.2 +- 1.96 * 0.04 = [0.122, 0.278].
  eval(db, m0, "ck100", "arith", 1, "acc", 0.1);
  eval(db, m0, "ck200", "arith", 1, "acc", 0.2, 0.04);
  // A score in another metric is not the task's report metric and must be ignored.
  eval(db, m0, "ck200", "arith", 1, "acc_norm", 0.99);

  // logic (acc). dense 0.2, 0.3, 0.4 (both seeds): target 0.4 at 400 tokens.
  // dreamer 0.1, 0.2, 0.3: not reached, < 400/400 = 1.00x. moe 0.3, 0.5: reaches 0.4 halfway
  // in log(tokens), at sqrt(100 * 200) = 141.42: 400/141.42 = 2.83x.
  for (const auto& id : {d0, d1}) {
    eval(db, id, "ck100", "logic", 1, "acc", 0.2);
    eval(db, id, "ck200", "logic", 1, "acc", 0.3);
    eval(db, id, "ck400", "logic", 1, "acc", 0.4);
  }
  for (const auto& id : {r0, r1}) {
    eval(db, id, "ck100", "logic", 4, "acc", 0.1);
    eval(db, id, "ck200", "logic", 4, "acc", 0.2);
    eval(db, id, "ck400", "logic", 4, "acc", 0.3);
  }
  // Samples at ck400 only, the same in both seeds: documents 0..4 both right, 5..29 only
  // dreamer (25), 30..64 only dense (35), 65..99 neither: dreamer 30, dense 40. Pooled 50 vs
  // 70 discordant: McNemar p = 2 * P(Binomial(120, 1/2) <= 50) = 0.0824 (exact sum with
  // Python's math.comb), not significant. The logic ratio has no interval: ck100 and ck200 have
  // neither samples nor a stderr.
  for (const auto& id : {d0, d1})
    samples(db, id, "ck400", "logic", 1, [](int64_t i) { return i < 5 || (i >= 30 && i < 65); });
  for (const auto& id : {r0, r1}) samples(db, id, "ck400", "logic", 4, first(30));
  eval(db, m0, "ck100", "logic", 1, "acc", 0.3);
  eval(db, m0, "ck200", "logic", 1, "acc", 0.5);

  // ppl (bits_per_byte, lower is better). dense 2.0, 1.5, 1.2: target 1.2 at 400. dreamer seed
  // 0 only: 1.8, 1.2, 1.0 reaches 1.2 at 200: 2.00x; final 1.000 (1 of 2 seeds). moe: none.
  for (const auto& id : {d0, d1}) {
    eval(db, id, "ck100", "ppl", 1, "bits_per_byte", 2.0);
    eval(db, id, "ck200", "ppl", 1, "bits_per_byte", 1.5);
    eval(db, id, "ck400", "ppl", 1, "bits_per_byte", 1.2);
  }
  eval(db, r0, "ck100", "ppl", 4, "bits_per_byte", 1.8);
  eval(db, r0, "ck200", "ppl", 4, "bits_per_byte", 1.2);
  eval(db, r0, "ck400", "ppl", 4, "bits_per_byte", 1.0);
  // Averages over arith and logic: dense (0.5 + 0.4) / 2 = 0.450, dreamer (0.7 + 0.3) / 2 =
  // 0.500, moe (0.2 + 0.5) / 2 = 0.350.

  // Expert metrics, site ffn. dreamer pooled usage_rel_perplexity at ck400, recurrences 4:
  // (0.8 + 0.9 + 0.6 + 0.7) / 4 = 0.750; universal_score (0.4 + 0.6) / 2 = 0.500; max_vio at
  // depth 1 (0.5 + 0.7) / 2 = 0.600, depth 2 (0.2 + 0.4) / 2 = 0.300. Rows at ck200 or at 8
  // recurrences must be ignored.
  expert_metric(db, r0, "ck400", "arith", 4, 0, "usage_rel_perplexity", 0.8);
  expert_metric(db, r1, "ck400", "arith", 4, 0, "usage_rel_perplexity", 0.9);
  expert_metric(db, r0, "ck400", "logic", 4, 0, "usage_rel_perplexity", 0.6);
  expert_metric(db, r1, "ck400", "logic", 4, 0, "usage_rel_perplexity", 0.7);
  expert_metric(db, r0, "ck200", "arith", 4, 0, "usage_rel_perplexity", 0.1);
  expert_metric(db, r0, "ck400", "arith", 8, 0, "usage_rel_perplexity", 0.05);
  expert_metric(db, r0, "ck400", "arith", 4, 0, "universal_score", 0.4);
  expert_metric(db, r1, "ck400", "arith", 4, 0, "universal_score", 0.6);
  expert_metric(db, r0, "ck400", "arith", 4, 1, "max_vio", 0.5);
  expert_metric(db, r1, "ck400", "arith", 4, 1, "max_vio", 0.7);
  expert_metric(db, r0, "ck400", "arith", 4, 2, "max_vio", 0.2);
  expert_metric(db, r1, "ck400", "arith", 4, 2, "max_vio", 0.4);
  // moe, last checkpoint ck200: 0.950 and 0.250.
  expert_metric(db, m0, "ck200", "arith", 1, 0, "usage_rel_perplexity", 0.95);
  expert_metric(db, m0, "ck200", "arith", 1, 0, "dead_expert_fraction", 0.25);

  expert_counts(db, r0, "ck400", 4, 1, {10, 0, 5, 5});
  expert_counts(db, r0, "ck400", 4, 2, {0, 10, 10, 0});
  expert_counts(db, m0, "ck200", 1, 1, {5, 5, 5, 5});
  expert_counts(db, m0, "ck200", 1, 2, {8, 2, 0, 10});

  train(db, d0, {{100, 3.0}, {200, 2.5}, {400, 2.0}});
  train(db, d1, {{100, 3.1}, {200, 2.6}, {400, 2.1}});
  train(db, r0, {{100, 2.8}, {200, 2.2}, {400, 1.8}});
  train(db, m0, {{100, 2.9}, {200, 2.4}});
  tx.commit();
}

std::string make_report_db() {
  const std::string file = temp_dir() + "/report.db";
  fill_report_db(file);
  return file;
}

}  // namespace dreamer::testing
