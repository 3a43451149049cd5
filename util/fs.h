#pragma once
// File-system helpers on plain string paths, written on POSIX calls.
//
// Why not std::filesystem: the PyTorch wheels' libtorch_cpu.so exports its own strong copies of
// libstdc++'s std::filesystem symbols (pytorch/pytorch#133437; PyTorch itself stopped using
// <filesystem>, #134494). A program linked with that LibTorch binds its std::filesystem calls
// to those copies, built by another compiler: remove_all() then crashed 20 tests at exit in the
// GPU build. No code linked with LibTorch may use <filesystem>; tests/no_std_filesystem_test.cpp
// keeps it out of the tree.
#include <cstdint>
#include <string>
#include <vector>

namespace dreamer::fs {

// ---- lexical operations (no system calls)
// "a" / "b": b when b is absolute, else a + "/" + b (one separator).
std::string join(const std::string& a, const std::string& b);
template <typename... Rest>
std::string join(const std::string& a, const std::string& b, const Rest&... rest) {
  return join(join(a, b), rest...);
}
std::string parent_path(const std::string& p);  // "a/b/c" -> "a/b", "c" -> "", "/c" -> "/"
std::string filename(const std::string& p);     // "a/b.json" -> "b.json"
std::string extension(const std::string& p);    // "a/b.json" -> ".json", "a/b" -> ""
std::string stem(const std::string& p);         // "a/b.json" -> "b"
bool is_absolute(const std::string& p);
// Removes "." parts, folds "x/.." and doubled separators ("a/./b/../c//" -> "a/c").
std::string lexically_normal(const std::string& p);

// ---- queries (never throw; false / nullopt-like answers on any error)
bool exists(const std::string& p);
bool is_directory(const std::string& p);
bool is_regular_file(const std::string& p);
// Size in bytes, or -1 when the file cannot be stat'ed.
int64_t file_size(const std::string& p);
// Names of the entries of a directory (no "." or ".."), sorted; empty when it cannot be read.
std::vector<std::string> list_directory(const std::string& dir);

// ---- paths against the process state
std::string current_directory();
std::string absolute(const std::string& p);  // lexically normal absolute path
// The real path of the longest existing prefix (symlinks resolved) plus the rest, normalised.
std::string weakly_canonical(const std::string& p);
std::string temp_directory();  // $TMPDIR, else /tmp

// ---- changes (throw std::runtime_error "<op> <path>: <strerror>" on failure)
void create_directories(const std::string& p);  // mkdir -p; fine when it exists as a directory
void remove_all(const std::string& p);          // rm -rf; fine when it does not exist
void rename(const std::string& from, const std::string& to);
// Non-throwing forms: "" on success, else the message the throwing form would carry.
std::string try_create_directories(const std::string& p);
std::string try_remove_all(const std::string& p);

}  // namespace dreamer::fs
