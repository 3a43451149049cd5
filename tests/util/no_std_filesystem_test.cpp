// No code linked with LibTorch may use <filesystem> (util/fs.h says why): the PyTorch wheels
// export their own copies of its symbols, and calls bound to them crashed the GPU build.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "util/fs.h"

namespace dreamer {
namespace {

const std::string kSource = DREAMER_SOURCE_DIR;

void scan(const std::string& dir, std::vector<std::string>& offenders) {
  // Spelled in two pieces so that this file does not match itself.
  const std::string include = std::string("#include <file") + "system>";
  const std::string qualified = std::string("std::file") + "system";
  for (const auto& name : fs::list_directory(dir)) {
    const std::string path = fs::join(dir, name);
    if (fs::is_directory(path)) {
      if (name == "build" || name.rfind("build-", 0) == 0 || name.front() == '.') continue;
      scan(path, offenders);
      continue;
    }
    const std::string ext = fs::extension(name);
    if (ext != ".cpp" && ext != ".h" && ext != ".cu" && ext != ".cuh") continue;
    std::ifstream in(path);
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
      const auto comment = line.find("//");
      const std::string code = line.substr(0, comment);
      if (code.find(include) != std::string::npos || code.find(qualified) != std::string::npos)
        offenders.push_back(path.substr(kSource.size() + 1) + ":" + std::to_string(n));
    }
  }
}

TEST(NoStdFilesystem, NoSourceFileUsesIt) {
  std::vector<std::string> offenders;
  for (const char* top : {"util", "models", "baselines", "zoo", "data", "eval", "matching", "train",
                          "results", "experiments", "cli", "tests", "bench", "fuzz"})
    if (fs::is_directory(fs::join(kSource, top))) scan(fs::join(kSource, top), offenders);
  std::ostringstream list;
  for (const auto& o : offenders) list << "\n  " << o;
  EXPECT_TRUE(offenders.empty()) << "use util/fs.h instead of <filesystem> at:" << list.str();
}

}  // namespace
}  // namespace dreamer
