// dreamer schema [--write] [FILE]: the experiment schema with its model part generated from
// the families' config declarations (experiments/model_schema.h).
#include <fstream>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>

#include "experiments/model_schema.h"
#include "util/errors.h"

namespace dreamer::cli {

void add_schema_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "schema", "print experiments/schema.json with its model part generated from the configs");
  static std::string file = "experiments/schema.json";
  static bool write = false;
  cmd->add_option("file", file, "the schema to update (default experiments/schema.json)")
      ->check(CLI::ExistingFile);
  cmd->add_flag("--write", write, "rewrite FILE in place instead of printing");
  cmd->callback([] {
    std::ifstream in(file);
    if (!in) throw InputError(file, "cannot open file");
    std::stringstream text;
    text << in.rdbuf();
    const std::string out = experiments::with_generated_model_schema(text.str(), file);
    if (!write) {
      std::cout << out;
      return;
    }
    std::ofstream(file) << out;
    std::cout << (out == text.str() ? "unchanged: " : "updated: ") << file << "\n";
  });
}

}  // namespace dreamer::cli
