// dreamer match EXPERIMENT.json [--json]: size every arm to the reference.
#include <iomanip>
#include <iostream>

#include "cli/commands.h"
#include "experiments/experiment_spec.h"
#include "train/memory_step.h"
#include "zoo/registry.h"

namespace dreamer::cli {

namespace {

std::string percent(const std::optional<double>& d) {
  if (!d) return "-";
  std::ostringstream s;
  s << std::showpos << std::fixed << std::setprecision(2) << 100 * *d << "%";
  return s.str();
}

// The hyperparameters that differ from the family's defaults, i.e. what the arm chose.
nlohmann::json chosen(const models::ModelConfig& config) {
  nlohmann::json defaults = zoo::model_config_from_json({{"family", config.family}}).params;
  nlohmann::json diff = nlohmann::json::object();
  for (const auto& op : nlohmann::json::diff(defaults, config.params))
    if (op["op"] != "remove") diff[op["path"].get<std::string>().substr(1)] = op["value"];
  return diff;
}

}  // namespace

void add_match_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "match", "size each arm of an experiment to its reference (params, FLOPs, memory)");
  static std::string file;
  static bool as_json = false;
  cmd->add_option("experiment", file, "experiment JSON file")->required()->check(CLI::ExistingFile);
  cmd->add_flag("--json", as_json, "machine-readable output");
  cmd->callback([] {
    auto spec =
        experiments::read_experiment(file).matching;  // any experiment file, includes and grids too
    auto results = experiments::match_all(spec, file);
    bool all_met = true;
    nlohmann::json rows = nlohmann::json::array();
    if (!as_json) {
      std::cout << "reference: params "
                << (spec.targets.params ? std::to_string(int64_t(*spec.targets.params)) : "-")
                << ", flops/token "
                << (spec.targets.flops ? std::to_string(int64_t(*spec.targets.flops)) : "-")
                << ", train memory "
                << (spec.targets.memory ? std::to_string(int64_t(*spec.targets.memory)) : "-")
                << " bytes\n";
      std::cout << std::left << std::setw(14) << "arm" << std::setw(10) << "family" << std::right
                << std::setw(13) << "params" << std::setw(14) << "flops/token" << std::setw(15)
                << "memory" << std::setw(10) << "d_params" << std::setw(10) << "d_flops"
                << std::setw(10) << "d_memory"
                << "  chosen\n";
    }
    for (const auto& [m, path] : results) {
      all_met &= m.within_tolerance;
      if (as_json) {
        rows.push_back(
            {{"arm", m.arm},
             {"family", m.config.family},
             {"config", m.config.to_json()},
             {"params", m.cost.params.total},
             {"active_params", m.cost.active_params},
             {"flops_per_token", m.cost.flops_forward_per_token},
             {"train_flops_per_token", m.cost.flops_train_per_token},
             {"memory_bytes", m.cost.memory_train_bytes},
             {"inference_memory_bytes", m.cost.memory_inference_bytes},
             {"memory", train::memory_breakdown_json(m.cost.memory)},
             {"deviation",
              {{"params",
                m.deviation.params ? nlohmann::json(*m.deviation.params) : nlohmann::json()},
               {"flops", m.deviation.flops ? nlohmann::json(*m.deviation.flops) : nlohmann::json()},
               {"memory",
                m.deviation.memory ? nlohmann::json(*m.deviation.memory) : nlohmann::json()}}},
             {"within_tolerance", m.within_tolerance}});
      } else {
        std::cout << std::left << std::setw(14) << m.arm << std::setw(10) << m.config.family
                  << std::right << std::setw(13) << m.cost.params.total << std::setw(14)
                  << int64_t(m.cost.flops_forward_per_token) << std::setw(15)
                  << int64_t(m.cost.memory_train_bytes) << std::setw(10)
                  << percent(m.deviation.params) << std::setw(10) << percent(m.deviation.flops)
                  << std::setw(10) << percent(m.deviation.memory) << "  " << chosen(m.config).dump()
                  << "\n";
        std::cout << "              " << train::memory_breakdown_line(m.cost.memory) << "\n";
      }
    }
    if (as_json) std::cout << rows.dump(2) << "\n";
    std::cout << std::flush;
    for (const auto& [m, path] : results)
      if (!m.within_tolerance) std::cerr << "error: " << path << ": " << m.failure << "\n";
    if (!all_met) throw CLI::RuntimeError(1);
  });
}

}  // namespace dreamer::cli
