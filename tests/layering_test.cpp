// The layers of the tree (docs/DESIGN.md, "Layers"): a file may include headers of its own
// layer and of the layers below it, never of one above. The lowest layer knowing the one above
// it is how models/ came to include baselines/ (issue 15); this test keeps the arrows downward.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "tests/source_tree.h"

namespace dreamer {
namespace {

// Path prefix -> layer, lowest first; the longest matching prefix decides. Folders of one
// layer may include each other (data/ reads eval/'s task types, eval/ reads data/'s
// tokenizers, ...). The model interface (model.h, config.h, roles.h: what every block's
// forward() takes and returns) sits below models/blocks/, the rest of models/ above it.
const std::vector<std::pair<std::string, int>>& layers() {
  // clang-format off
  static const std::vector<std::pair<std::string, int>> kLayers = {
      {"util/", 0},
      {"models/model.", 1},
      {"models/config.", 1},
      {"models/roles.", 1},
      {"models/blocks/", 2},
      {"models/", 3},
      {"baselines/", 4},
      {"zoo/", 5},
      {"data/", 6},
      {"eval/", 6},
      {"train/", 6},
      {"matching/", 6},
      {"results/", 6},
      {"experiments/", 6},
      {"cli/", 7},
      {"tests/", 7},
      {"bench/", 7},
      {"fuzz/", 7},
  };
  // clang-format on
  return kLayers;
}

// The layer of a path relative to the source root ("models/blocks/norm.h"), with the prefix
// that decided it; -1 for paths outside every layer (system headers, generated files).
std::pair<int, std::string> layer_of(const std::string& path) {
  int layer = -1;
  std::string best;
  for (const auto& [prefix, level] : layers())
    if (path.rfind(prefix, 0) == 0 && prefix.size() > best.size()) {
      best = prefix;
      layer = level;
    }
  return {layer, best};
}

// The quoted include of a line ("models/model.h"), or "" when the line includes nothing.
std::string quoted_include(const std::string& line) {
  const auto hash = line.find_first_not_of(" \t");
  if (hash == std::string::npos || line.compare(hash, 8, "#include") != 0) return "";
  const auto open = line.find('"', hash);
  if (open == std::string::npos) return "";
  const auto close = line.find('"', open + 1);
  return close == std::string::npos ? "" : line.substr(open + 1, close - open - 1);
}

TEST(Layering, NoIncludeRunsUpward) {
  std::vector<std::string> offenders;
  for (const auto& file : testing::project_source_files()) {
    const auto [own, own_prefix] = layer_of(file);
    std::ifstream in(testing::source_path(file));
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
      const auto [used, used_prefix] = layer_of(quoted_include(line));
      if (used > own)
        offenders.push_back(file + ":" + std::to_string(n) + " (" + own_prefix + ", layer " +
                            std::to_string(own) + ") includes " + quoted_include(line) + " (" +
                            used_prefix + ", layer " + std::to_string(used) + ")");
    }
  }
  std::ostringstream list;
  for (const auto& o : offenders) list << "\n  " << o;
  EXPECT_TRUE(offenders.empty()) << "includes that run upward (docs/DESIGN.md, \"Layers\"):"
                                 << list.str();
}

// The check itself: the longest prefix decides (models/blocks/ below the rest of models/, the
// model interface below the blocks), and paths outside the tree have no layer.
TEST(Layering, LayerOfPaths) {
  EXPECT_LT(layer_of("models/model.h").first, layer_of("models/blocks/norm.h").first);
  EXPECT_LT(layer_of("models/blocks/norm.h").first, layer_of("models/dreamer.h").first);
  EXPECT_LT(layer_of("models/dreamer.h").first, layer_of("baselines/common.h").first);
  EXPECT_EQ(layer_of("models/config_fields.h").first, layer_of("models/dreamer.h").first);
  EXPECT_LT(layer_of("baselines/common.h").first, layer_of("zoo/registry.h").first);
  EXPECT_EQ(layer_of("data/shards.h").first, layer_of("eval/task_spec.h").first);
  EXPECT_EQ(layer_of("torch/torch.h").first, -1);
  EXPECT_EQ(layer_of("modelsx/a.h").first, -1);
  EXPECT_EQ(layer_of("utility/a.h").first, -1);
  EXPECT_EQ(quoted_include("#include \"zoo/registry.h\""), "zoo/registry.h");
  EXPECT_EQ(quoted_include("#include <torch/torch.h>"), "");
  EXPECT_EQ(quoted_include("// see \"models/model.h\""), "");
}

}  // namespace
}  // namespace dreamer
