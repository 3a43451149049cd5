#pragma once
// The tree's own C++ sources, for the tests that read them (no <filesystem>, layering).
#include <string>
#include <vector>

namespace dreamer::testing {

// The C++ sources (.cpp, .h, .cu, .cuh) below the code folders of the source tree
// (DREAMER_SOURCE_DIR), build folders and hidden ones left out; paths relative to the root
// ("models/blocks/norm.h").
std::vector<std::string> project_source_files();

// The full path of a file named by its path relative to the source root.
std::string source_path(const std::string& relative);

}  // namespace dreamer::testing
