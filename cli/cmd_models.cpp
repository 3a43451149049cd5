// dreamer models [--config FILE] [--json]: the model zoo and parameter counts.
#include <algorithm>
#include <iomanip>
#include <iostream>

#include "cli/commands.h"
#include "zoo/registry.h"

namespace dreamer::cli {

namespace {

nlohmann::json counts_json(const models::ParameterCounts& c) {
  return {{"total", c.total}, {"embedding", c.embedding}, {"non_embedding", c.non_embedding}};
}

std::string human(int64_t n) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(n >= 1e9 ? 2 : 1);
  if (n >= 1000000000)
    s << n / 1e9 << "B";
  else if (n >= 1000000)
    s << n / 1e6 << "M";
  else if (n >= 1000)
    s << n / 1e3 << "K";
  else
    s << n;
  return s.str();
}

void list_zoo(bool as_json) {
  nlohmann::json rows = nlohmann::json::array();
  // Columns as wide as the longest family and preset names (plus a gap).
  int family_w = 8, preset_w = 8;
  for (const auto& family : zoo::families()) {
    family_w = std::max(family_w, static_cast<int>(family.name.size()) + 2);
    for (const auto& preset : family.presets)
      preset_w = std::max(preset_w, static_cast<int>(preset.first.size()) + 2);
  }
  if (!as_json)
    std::cout << std::left << std::setw(family_w) << "family" << std::setw(preset_w) << "preset"
              << std::right << std::setw(14) << "params" << std::setw(14) << "embedding"
              << std::setw(16) << "non-embedding"
              << "\n";
  for (const auto& family : zoo::families()) {
    if (!as_json)
      std::cout << "# " << family.name << ": " << family.description << " [" << family.source
                << "]\n";
    for (const auto& [preset, overrides] : family.presets) {
      auto config = zoo::model_config_from_preset(family.name, preset);
      auto counts = zoo::analytic_parameter_counts(config);
      if (as_json) {
        rows.push_back(
            {{"family", family.name}, {"preset", preset}, {"params", counts_json(counts)}});
      } else {
        std::cout << std::left << std::setw(family_w) << family.name << std::setw(preset_w)
                  << preset << std::right << std::setw(14) << counts.total << std::setw(14)
                  << counts.embedding << std::setw(16) << counts.non_embedding << "  ("
                  << human(counts.total) << ")\n";
      }
    }
  }
  if (as_json) std::cout << rows.dump(2) << "\n";
}

void describe_config(const std::string& file, bool as_json) {
  auto config = zoo::model_config_from_file(file);
  auto model = zoo::build_model(config);
  auto counts = models::count_parameters(*model);
  if (as_json) {
    std::cout << nlohmann::json{{"family", config.family},
                                {"config", config.to_json()},
                                {"params", counts_json(counts)}}
                     .dump(2)
              << "\n";
    return;
  }
  std::cout << "family: " << config.family << "\n";
  std::cout << "resolved config: " << config.to_json().dump() << "\n\n";
  std::cout << *model << "\n\n";
  std::cout << std::left << std::setw(48) << "parameter" << std::setw(20) << "shape" << std::right
            << std::setw(12) << "count"
            << "\n";
  for (const auto& item : model->named_parameters()) {
    std::ostringstream shape;
    shape << item.value().sizes();
    std::cout << std::left << std::setw(48) << item.key() << std::setw(20) << shape.str()
              << std::right << std::setw(12) << item.value().numel() << "\n";
  }
  std::cout << "\nparams: total " << counts.total << " (" << human(counts.total) << "), embedding "
            << counts.embedding << ", non-embedding " << counts.non_embedding << "\n";
}

}  // namespace

void add_models_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("models", "list model families and presets with parameter counts");
  static std::string config_file;
  static bool as_json = false;
  cmd->add_option("--config", config_file, "build one model from a JSON config and describe it")
      ->check(CLI::ExistingFile);
  cmd->add_flag("--json", as_json, "machine-readable output");
  cmd->callback([] {
    if (config_file.empty())
      list_zoo(as_json);
    else
      describe_config(config_file, as_json);
  });
}

}  // namespace dreamer::cli
