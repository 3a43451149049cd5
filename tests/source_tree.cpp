#include "tests/source_tree.h"

#include "util/fs.h"

namespace dreamer::testing {

namespace {

void collect(const std::string& root, const std::string& relative_dir,
             std::vector<std::string>& files) {
  for (const auto& name : fs::list_directory(fs::join(root, relative_dir))) {
    const std::string relative = fs::join(relative_dir, name);
    if (fs::is_directory(fs::join(root, relative))) {
      if (name == "build" || name.rfind("build-", 0) == 0 || name.front() == '.') continue;
      collect(root, relative, files);
      continue;
    }
    const std::string ext = fs::extension(name);
    if (ext == ".cpp" || ext == ".h" || ext == ".cu" || ext == ".cuh") files.push_back(relative);
  }
}

}  // namespace

std::vector<std::string> project_source_files() {
  std::vector<std::string> files;
  for (const char* top : {"util", "models", "baselines", "zoo", "data", "eval", "matching", "train",
                          "results", "experiments", "cli", "tests", "bench", "fuzz"})
    if (fs::is_directory(source_path(top))) collect(DREAMER_SOURCE_DIR, top, files);
  return files;
}

std::string source_path(const std::string& relative) {
  return fs::join(DREAMER_SOURCE_DIR, relative);
}

}  // namespace dreamer::testing
