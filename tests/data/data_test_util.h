#pragma once
// Helpers shared by the data tests.
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "tests/test_util.h"
#include "util/errors.h"

namespace dreamer::data::testing {

// Writes `text` to a file called `name` in a fresh temporary directory; returns its path.
inline std::string write_temp_file(const std::string& name, const std::string& text) {
  const std::string path = dreamer::testing::temp_dir() + "/" + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

inline std::string write_temp_lines(const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& l : lines) text += l + "\n";
  return write_temp_file("lines.txt", text);
}

// Expects `body` to throw an InputError located at `where` whose text contains `fragment`.
inline void expect_input_error(const std::function<void()>& body, const std::string& where,
                               const std::string& fragment = "") {
  try {
    body();
    ADD_FAILURE() << "no InputError; expected one at " << where;
  } catch (const InputError& e) {
    EXPECT_EQ(e.where(), where) << e.what();
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

}  // namespace dreamer::data::testing
