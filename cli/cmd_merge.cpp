// dreamer merge OUT.db IN.db...: join the databases of a sharded experiment (results/merge.h).
#include <iostream>

#include "cli/commands.h"
#include "results/merge.h"

namespace dreamer::cli {

void add_merge_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "merge", "merge results databases of one experiment's shards (dreamer run --shard i/n)");
  static std::string out;
  static std::vector<std::string> inputs;
  cmd->add_option("out", out, "database to merge into (created if missing)")->required();
  cmd->add_option("inputs", inputs, "shard databases")->required()->expected(1, -1);
  cmd->callback([] {
    for (const auto& m : results::merge_databases(out, inputs)) {
      std::cout << m.file << ":";
      for (const auto& table : {"runs", "train_metrics", "checkpoints", "eval_results"})
        std::cout << " " << table << " +"
                  << (m.rows_added.count(table) ? m.rows_added.at(table) : 0);
      std::cout << "\n";
    }
    std::cout << "merged into " << out << "\n";
  });
}

}  // namespace dreamer::cli
