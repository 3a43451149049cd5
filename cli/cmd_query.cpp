// dreamer query DB QUERY [--format table|csv|json]: a named query (runs, evals, paired, ...)
// or any SQL, run read-only against a results database.
#include <algorithm>
#include <iostream>

#include "cli/commands.h"
#include "results/query.h"
#include "results/query_format.h"
#include "results/store.h"
#include "util/errors.h"

namespace dreamer::cli {

namespace {

void list_named_queries() {
  size_t width = 0;
  for (const auto& q : results::named_queries()) width = std::max(width, q.name.size());
  for (const auto& q : results::named_queries())
    std::cout << q.name << std::string(width + 2 - q.name.size(), ' ') << q.description << "\n";
}

}  // namespace

void add_query_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("query",
                                 "run a named query or SQL against a results database (read-only)");
  static std::string db, query, format = "table";
  static bool list = false;
  cmd->add_option("db", db, "SQLite results file");
  cmd->add_option("query", query, "a named query (see --list) or one SQL statement");
  cmd->add_option("--format", format, "table (default), csv, json or jsonl")
      ->check(CLI::IsMember({"table", "csv", "json", "jsonl"}));
  cmd->add_flag("--list", list, "list the named queries and exit");
  cmd->callback([] {
    if (list) return list_named_queries();
    if (db.empty() || query.empty())
      throw InputError("query",
                       "expected a database file and a query: dreamer query DB QUERY "
                       "(named queries: dreamer query --list)");
    const results::ReadOnlyDatabase database(db);
    if (const auto warning = results::schema_warning(database); !warning.empty())
      std::cerr << "warning: " << warning << "\n";
    const auto result = results::run_query(database, query);
    if (format == "csv")
      std::cout << results::format_csv(result);
    else if (format == "json")
      std::cout << results::format_json(result);
    else if (format == "jsonl")
      std::cout << results::format_jsonl(result);
    else
      std::cout << results::format_table(result);
  });
}

}  // namespace dreamer::cli
