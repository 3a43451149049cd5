// dreamer_fuzz_replay CORPUS_DIR [TARGET]: runs every file in CORPUS_DIR/<target>/ through its
// target (all targets, or only TARGET). A finding aborts (non-zero exit, the input's path on
// stderr just before); otherwise prints how many inputs each target ran and exits 0. Also the
// way to reproduce a libFuzzer crash with the project's compiler: put the crash file in a
// directory named after its target.
#include <dirent.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz/fuzz_target.h"

namespace {

std::vector<std::string> files_in(const std::string& dir) {
  std::vector<std::string> files;
  DIR* d = opendir(dir.c_str());
  if (!d) return files;
  while (const dirent* entry = readdir(d))
    if (entry->d_name[0] != '.') files.push_back(dir + "/" + entry->d_name);
  closedir(d);
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR [TARGET]\n", argv[0]);
    return 2;
  }
  const std::string root = argv[1], only = argc > 2 ? argv[2] : "";
  int failures = 0;
  for (const auto& target : dreamer::fuzz::targets()) {
    if (!only.empty() && target.name != only) continue;
    const auto files = files_in(root + "/" + target.name);
    if (files.empty()) {
      std::fprintf(stderr, "%s: no inputs in %s/%s\n", target.name.c_str(), root.c_str(),
                   target.name.c_str());
      ++failures;
      continue;
    }
    for (const auto& file : files) {
      std::ifstream in(file, std::ios::binary);
      const std::string bytes((std::istreambuf_iterator<char>(in)), {});
      dreamer::fuzz::set_input_name(file);  // named in the message if it aborts
      dreamer::fuzz::run_target(target.function, reinterpret_cast<const uint8_t*>(bytes.data()),
                                bytes.size());
    }
    std::printf("%s: %zu inputs, no findings\n", target.name.c_str(), files.size());
  }
  return failures == 0 ? 0 : 1;
}
