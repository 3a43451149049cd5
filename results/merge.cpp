#include "results/merge.h"

#include <optional>
#include <set>

#include "results/sqlite.h"
#include "results/store.h"
#include "util/errors.h"
#include "util/fs.h"

namespace dreamer::results {

namespace {

// (name, resolved spec) of every experiment in schema `schema` ("main" or "src").
std::map<std::string, std::string> experiments_in(Database& db, const std::string& schema) {
  std::map<std::string, std::string> found;
  Statement s(db, "SELECT name, spec_json FROM " + schema + ".experiments ORDER BY name");
  while (s.step()) found[s.column_text(0)] = s.column_text(1);
  return found;
}

std::string names(const std::map<std::string, std::string>& experiments) {
  std::string out;
  for (const auto& [name, spec] : experiments) out += (out.empty() ? "\"" : ", \"") + name + "\"";
  return out.empty() ? "none" : out;
}

std::vector<std::string> copied_tables(Database& db) {
  std::vector<std::string> tables;
  Statement s(db,
              "SELECT name FROM main.sqlite_master WHERE type = 'table' AND name NOT LIKE "
              "'sqlite_%' AND name NOT IN ('schema_version', 'run_leases') ORDER BY name");
  while (s.step()) tables.push_back(s.column_text(0));
  return tables;
}

std::string column_list(Database& db, const std::string& table) {
  std::string cols;
  Statement s(db, "SELECT name FROM pragma_table_info(?1)");
  s.bind(1, table);
  while (s.step()) cols += (cols.empty() ? "\"" : ", \"") + s.column_text(0) + "\"";
  return cols;
}

// ATTACHes `file` as "src" for the life of the object.
class Attached {
 public:
  Attached(Database& db, const std::string& file) : db_(db) {
    Statement(db, "ATTACH DATABASE ?1 AS src").bind(1, file).run();
  }
  ~Attached() {
    try {
      db_.exec("DETACH DATABASE src");
    } catch (...) {  // never throw from a destructor
    }
  }

 private:
  Database& db_;
};

}  // namespace

std::vector<MergedInput> merge_databases(const std::string& out,
                                         const std::vector<std::string>& inputs) {
  require(!inputs.empty(), "dreamer merge", "name at least one input database after OUT.db");
  std::set<std::string> seen;
  for (const auto& in : inputs) {
    require(fs::exists(in) && !fs::is_directory(in), in, "no such database file");
    require(!fs::exists(out) || fs::weakly_canonical(in) != fs::weakly_canonical(out), in,
            "is the output database too: name a new or another OUT.db");
    require(seen.insert(fs::weakly_canonical(in)).second, in, "is named twice");
  }
  ResultStore store(out);  // creates or migrates OUT to this program's schema
  Database& db = store.db();
  const int64_t version = store.schema_version();
  auto reference = experiments_in(db, "main");
  std::string reference_file = out;
  std::vector<MergedInput> merged;
  for (const auto& in : inputs) {
    std::optional<Attached> attached;
    try {  // SQLite reads the file's header here: say which file is not a database
      attached.emplace(db, in);
    } catch (const InputError& e) {
      throw InputError(in, "is not a Dreamer Bench results database (" + e.message() + ")");
    }
    {
      bool ok = false;
      try {  // a file that is not SQLite fails here, in sqlite's words about OUT: say which
        Statement s(db,
                    "SELECT COUNT(*) FROM src.sqlite_master WHERE type = 'table' AND name = "
                    "'schema_version'");
        ok = s.step() && s.column_int(0) == 1;
      } catch (const InputError&) {
        ok = false;
      }
      require(ok, in, "is not a Dreamer Bench results database (no schema_version table)");
    }
    Statement v(db, "SELECT COALESCE(MAX(version), 0) FROM src.schema_version");
    v.step();
    const int64_t theirs = v.column_int(0);
    require(theirs == version, in,
            "has schema version " + std::to_string(theirs) + ", " + out + " has " +
                std::to_string(version) +
                " (this dreamer's): databases of different schema versions are not merged "
                "(open it with the dreamer that matches, or re-run that shard)");
    const auto experiments = experiments_in(db, "src");
    if (reference.empty()) {
      reference = experiments;
      reference_file = in;
    } else {
      require(experiments.size() == reference.size() &&
                  std::equal(experiments.begin(), experiments.end(), reference.begin(),
                             [](const auto& a, const auto& b) { return a.first == b.first; }),
              in,
              "holds experiment " + names(experiments) + " but " + reference_file + " holds " +
                  names(reference) + ": databases of different experiments are not merged");
      for (const auto& [name, spec] : experiments)
        require(spec == reference.at(name), in,
                "holds experiment \"" + name + "\" with a different resolved spec than " +
                    reference_file + " (the experiment file changed between shards): not merged");
    }
    {
      Statement s(db,
                  "SELECT r.run_id FROM src.runs r JOIN main.runs m ON m.run_id = r.run_id "
                  "WHERE COALESCE(r.start_id, '') != COALESCE(m.start_id, '') LIMIT 1");
      if (s.step())
        throw InputError(in, "holds run " + s.column_text(0) + " from another start than " + out +
                                 " has (it ran in two shards or twice): merge one of them");
    }
    MergedInput result{in, {}};
    Transaction tx(db);
    for (const auto& table : copied_tables(db)) {
      const std::string cols = column_list(db, table);
      db.exec("INSERT OR IGNORE INTO main.\"" + table + "\" (" + cols + ") SELECT " + cols +
              " FROM src.\"" + table + "\"");
      result.rows_added[table] = sqlite3_changes(db.handle());
    }
    tx.commit();
    merged.push_back(std::move(result));
  }
  return merged;
}

}  // namespace dreamer::results
