#pragma once
// `dreamer merge OUT.db IN.db...`: the databases of a sharded experiment (dreamer run --shard
// i/n) joined into one. Every input must be a results database of this program's schema
// version holding the same experiment (name and resolved spec) as the others and as OUT when
// OUT has one; anything else is an InputError naming the file. Rows are copied with INSERT OR
// IGNORE on every table's natural key, so merging a shard twice adds nothing; a run found in two
// inputs from different starts (run twice, in two shards) is refused rather than mixed. Leases
// are not copied (they belong to processes of the shard's machine). One transaction per input.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace dreamer::results {

struct MergedInput {
  std::string file;
  std::map<std::string, int64_t> rows_added;  // table -> rows new in OUT
};

std::vector<MergedInput> merge_databases(const std::string& out,
                                         const std::vector<std::string>& inputs);

}  // namespace dreamer::results
