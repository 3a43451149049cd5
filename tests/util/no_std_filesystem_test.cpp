// No code linked with LibTorch may use <filesystem> (util/fs.h says why): the PyTorch wheels
// export their own copies of its symbols, and calls bound to them crashed the GPU build.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "tests/source_tree.h"

namespace dreamer {
namespace {

TEST(NoStdFilesystem, NoSourceFileUsesIt) {
  // Spelled in two pieces so that this file does not match itself.
  const std::string include = std::string("#include <file") + "system>";
  const std::string qualified = std::string("std::file") + "system";
  std::vector<std::string> offenders;
  for (const auto& file : testing::project_source_files()) {
    std::ifstream in(testing::source_path(file));
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
      const std::string code = line.substr(0, line.find("//"));
      if (code.find(include) != std::string::npos || code.find(qualified) != std::string::npos)
        offenders.push_back(file + ":" + std::to_string(n));
    }
  }
  std::ostringstream list;
  for (const auto& o : offenders) list << "\n  " << o;
  EXPECT_TRUE(offenders.empty()) << "use util/fs.h instead of <filesystem> at:" << list.str();
}

}  // namespace
}  // namespace dreamer
