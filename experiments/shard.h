#pragma once
// Sharded grids: `dreamer run FILE --shard i/n` runs a deterministic slice of an experiment's
// expanded runs, so a Slurm job array or a Kubernetes indexed job fans one experiment out over
// n jobs (each with its own database; `dreamer merge` joins them). Run k of the plan (in plan
// order: arms as the file lists them after grid expansion, then seeds) belongs to shard
// k mod n: round robin, so the shards of a grid get about the same mix of arms.
#include <cstdint>
#include <string>

namespace dreamer::experiments {

struct Shard {
  int64_t index = 0, count = 1;  // 0 <= index < count
  bool all() const { return count == 1; }
  bool holds(size_t run_index) const {
    return static_cast<int64_t>(run_index % static_cast<size_t>(count)) == index;
  }
  std::string to_string() const { return std::to_string(index) + "/" + std::to_string(count); }
};

// "i/n" with 0 <= i < n; anything else is an InputError naming `where` (the flag).
Shard parse_shard(const std::string& text, const std::string& where);

}  // namespace dreamer::experiments
