#pragma once
// A run's fingerprint: everything that decides what a run computes, as one JSON object
//   {"model": resolved ModelConfig, "train": settings, "workload": {...}, "seed": k,
//    "data": {"spec": ..., "files": {PATH: hash}}, "tokenizer": {"spec": ..., "hash": ...},
//    "eval": {"steps", "depths", "batch_size", "samples", "tasks": [...]}, "code_version": ...}
// stored with the run and compared on --resume: a resumed run continues only what the same
// inputs started, unless the user allows a difference by its JSON path.
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "data/tokenizer.h"
#include "experiments/runner.h"

namespace dreamer::experiments {

nlohmann::json run_fingerprint(const ExperimentPlan& plan, const PlannedRun& run,
                               const data::Tokenizer& tokenizer, const std::string& code_version);

struct FingerprintChange {
  std::string path;              // "$.model.recurrence.mean"
  nlohmann::json before, after;  // null where the key is missing on that side
};
// Every difference between two fingerprints: the sections in the order above, keys sorted within
// them; arrays of different lengths differ as a whole.
std::vector<FingerprintChange> fingerprint_changes(const nlohmann::json& stored,
                                                   const nlohmann::json& current);
// Whether `path` is one of `allowed` or inside one ("train" allows "$.train.optimizer.lr");
// allowed fields may omit the leading "$.".
bool change_allowed(const std::string& path, const std::vector<std::string>& allowed);

// "fnv1a64:<16 hex digits>" of a file's bytes (files over 1 GiB: their size and first and last
// 64 MiB, marked "sampled"). InputError naming the file when it cannot be read.
std::string file_hash(const std::string& path);

}  // namespace dreamer::experiments
