#pragma once
// The part of an experiment file that matching needs: the workload, the reference, the arms.
// (The experiment-runner issue extends this file format with data, training and evaluation.)
//
//   {"name": "...",
//    "workload": {"seq_len": 256, "batch": 8, "recurrences": 0, "activation_checkpointing": false},
//    "reference": {"model": {"family": "dreamer", "preset": "DR"}}
//              or {"targets": {"params": 1.2e6, "flops": 3e6, "memory": 8e8}},
//    "arms": [{"name": "dreamer", "model": {"family": "dreamer", "preset": "DR+DA+EA"},
//              "free": ["d_model", {"name": "ffn_experts.n_experts", "min": 4, "max": 256}],
//              "match": ["params", "flops"], "tolerance": 0.05}]}
#include <string>
#include <vector>

#include "matching/solver.h"
#include "util/json_reader.h"

namespace dreamer::experiments {

struct MatchingSpec {
  std::string name;
  models::Workload workload;
  std::optional<models::ModelConfig> reference_model;
  matching::Targets targets;  // from the reference model, or given directly
  std::vector<matching::Arm> arms;
};

// Strict: unknown keys are InputErrors naming the JSON path inside `file`.
MatchingSpec parse_matching_spec(const nlohmann::json& root, const std::string& file);
// The matching keys of a larger document (an experiment): reads name, workload, reference and
// arms through `r` (which the caller finishes); `extra_arm_keys` are arm keys read elsewhere.
MatchingSpec parse_matching_part(JsonReader& r, const nlohmann::json& root,
                                 const std::vector<std::string>& extra_arm_keys);
MatchingSpec read_matching_spec(const std::string& file);

struct MatchedArm {
  matching::Match match;
  std::string path;  // "$.arms[i]" for messages
};
std::vector<MatchedArm> match_all(const MatchingSpec& spec, const std::string& file);

}  // namespace dreamer::experiments
