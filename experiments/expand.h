#pragma once
// What an experiment file becomes before it is parsed: includes merged in, ablation grids
// expanded into arms. Both work on plain JSON so that the typed parser sees one flat file.
//
// Includes: "include": "base.json" or ["a.json", "b.json"], paths relative to the including
// file. The included files are merged in order, then the including file on top, with JSON
// merge-patch semantics (RFC 7386): objects merge key by key, any other value (arrays too:
// "arms" is replaced, not appended) overrides, and null deletes a key.
//
// Grids: an arm may hold "grid": {"model.ffn_experts.k": [1, 2], "train.optimizer.lr":
// [1e-3, 3e-3]}. Each axis is a dotted path inside the arm and a list of values; the arm becomes
// one arm per point of the cross product, named "arm[k=1,lr=0.001]" (the last path component
// and the value of each axis), with the values set at those paths.
#include <nlohmann/json.hpp>

#include <string>

namespace dreamer::experiments {

// Reads `file` and everything it includes, merged; InputErrors name the file and JSON path.
nlohmann::json read_with_includes(const std::string& file);
// Expands every arm's "grid" (errors name `file` and the arm's JSON path).
nlohmann::json expand_grids(nlohmann::json experiment, const std::string& file);

}  // namespace dreamer::experiments
