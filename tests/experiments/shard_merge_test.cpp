// Sharded grids (dreamer run --shard i/n) and joining their databases (dreamer merge).
#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include "experiments/shard.h"
#include "results/merge.h"
#include "results/sqlite.h"
#include "tests/experiments/db_rows.h"
#include "tests/experiments/tiny_experiment.h"
#include "tests/test_util.h"
#include "util/errors.h"
#include "util/fs.h"

namespace dreamer::testing {
namespace {

TEST(Shard, EveryRunBelongsToExactlyOneShard) {
  for (int64_t n = 1; n <= 4; ++n) {
    std::vector<int> owners(11, 0);
    for (int64_t i = 0; i < n; ++i) {
      const auto shard =
          experiments::parse_shard(std::to_string(i) + "/" + std::to_string(n), "--shard");
      for (size_t run = 0; run < owners.size(); ++run) owners[run] += shard.holds(run);
    }
    for (size_t run = 0; run < owners.size(); ++run)
      EXPECT_EQ(owners[run], 1) << run << " of n=" << n;
  }
  // Round robin: shard 1 of 3 takes runs 1, 4, 7.
  const auto s = experiments::parse_shard("1/3", "--shard");
  EXPECT_TRUE(s.holds(1) && s.holds(4) && s.holds(7));
  EXPECT_FALSE(s.holds(0) || s.holds(2) || s.holds(3));
}

TEST(Shard, MalformedShardsNameTheFlag) {
  for (const std::string bad : {"2/2", "1", "a/b", "0/0", "-1/2", "1/2/3", "/2", "1/"}) {
    try {
      experiments::parse_shard(bad, "--shard");
      ADD_FAILURE() << bad << " accepted";
    } catch (const InputError& e) {
      EXPECT_EQ(e.where(), "--shard") << bad;
    }
  }
}

std::string experiment_dir() {
  const auto dir = temp_dir();
  std::ofstream(dir + "/tiny.json") << tiny_experiment().dump();
  return dir;
}

std::set<std::string> run_ids(const std::string& db) {
  results::Database d(db);
  results::Statement s(d, "SELECT run_id FROM runs");
  std::set<std::string> ids;
  while (s.step()) ids.insert(s.column_text(0));
  return ids;
}

int64_t count(const std::string& db, const std::string& table) {
  results::Database d(db);
  results::Statement s(d, "SELECT COUNT(*) FROM " + table);
  s.step();
  return s.column_int(0);
}

// The two shards of the two-arm experiment hold one run each; merged, they hold the same rows an
// unsharded run stores (timings and start ids aside); merging again adds nothing.
TEST(ShardedGrid, MergedShardsEqualTheUnshardedRun) {
  const auto dir = experiment_dir();
  const std::string file = dir + "/tiny.json";
  for (const std::string i : {"0", "1"}) {
    const auto r = run_cli("run " + file + " --shard " + i + "/2 --db " + dir + "/shard" + i +
                           ".db --out " + dir + "/runs --no-progress");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("shard " + i + "/2: 1 of 2 runs"), std::string::npos) << r.output;
  }
  const auto a = run_ids(dir + "/shard0.db"), b = run_ids(dir + "/shard1.db");
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_NE(*a.begin(), *b.begin());

  const auto full =
      run_cli("run " + file + " --db " + dir + "/full.db --out " + dir + "/full --no-progress");
  ASSERT_EQ(full.exit_code, 0) << full.output;

  const std::string merged = dir + "/merged.db";
  const auto m = run_cli("merge " + merged + " " + dir + "/shard0.db " + dir + "/shard1.db");
  ASSERT_EQ(m.exit_code, 0) << m.output;
  EXPECT_EQ(result_rows(merged), result_rows(dir + "/full.db"));

  const int64_t metrics = count(merged, "train_metrics"), evals = count(merged, "eval_results");
  const auto again = results::merge_databases(merged, {dir + "/shard1.db", dir + "/shard0.db"});
  for (const auto& in : again)
    for (const auto& [table, added] : in.rows_added) EXPECT_EQ(added, 0) << in.file << " " << table;
  EXPECT_EQ(count(merged, "train_metrics"), metrics);
  EXPECT_EQ(count(merged, "eval_results"), evals);
  EXPECT_EQ(run_ids(merged).size(), 2u);
}

// A copy of `db` edited by `sql`, as another experiment's or version's database would be.
std::string edited_copy(const std::string& db, const std::string& name, const std::string& sql) {
  const std::string copy = fs::join(fs::parent_path(db), name);
  {
    std::ifstream in(db, std::ios::binary);
    std::ofstream out(copy, std::ios::binary);
    out << in.rdbuf();
  }
  results::Database d(copy);
  d.exec(sql);
  return copy;
}

TEST(ShardedGrid, MergeRefusesOtherExperimentsAndSchemaVersionsNamingTheFile) {
  const auto dir = experiment_dir();
  const auto r = run_cli("run " + dir + "/tiny.json --shard 0/2 --max-steps 1 --db " + dir +
                         "/a.db --out " + dir + "/runs --no-progress");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // Merging needs the WAL folded into the file before copying it.
  {
    results::Database d(dir + "/a.db");
    d.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  }

  const auto other = edited_copy(dir + "/a.db", "other.db",
                                 "UPDATE experiments SET name = 'other'; DELETE FROM runs");
  auto m = run_cli("merge " + dir + "/out1.db " + dir + "/a.db " + other);
  EXPECT_NE(m.exit_code, 0);
  EXPECT_NE(m.output.find(other + ": holds experiment \"other\""), std::string::npos) << m.output;
  EXPECT_NE(m.output.find("different experiments"), std::string::npos) << m.output;

  const auto old = edited_copy(dir + "/a.db", "old.db", "UPDATE schema_version SET version = 2");
  m = run_cli("merge " + dir + "/out2.db " + old);
  EXPECT_NE(m.exit_code, 0);
  EXPECT_NE(m.output.find(old + ": has schema version 2"), std::string::npos) << m.output;

  const std::string text = dir + "/notes.db";
  std::ofstream(text) << "not a database\n";
  m = run_cli("merge " + dir + "/out3.db " + text);
  EXPECT_NE(m.exit_code, 0);
  EXPECT_NE(m.output.find(text + ": is not a Dreamer Bench results database"), std::string::npos)
      << m.output;

  m = run_cli("merge " + dir + "/out4.db " + dir + "/missing.db");
  EXPECT_NE(m.exit_code, 0);
  EXPECT_NE(m.output.find(dir + "/missing.db: no such database file"), std::string::npos)
      << m.output;
}

}  // namespace
}  // namespace dreamer::testing
