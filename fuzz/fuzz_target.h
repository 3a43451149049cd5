#pragma once
// A fuzz target is a function from bytes to nothing that must not crash, hang, or let anything
// but an InputError (the project's answer to bad input) escape. Each is built two ways
// (fuzz/CMakeLists.txt):
//   - with clang's libFuzzer (DREAMER_LIBFUZZER defined): the target is the program's
//     LLVMFuzzerTestOneInput, one program per target (scripts/fuzz.sh);
//   - with the project's compiler into dreamer_fuzz_replay, which runs every committed input
//     (fuzz/corpus/<target>/*) through its target: the ctest test fuzz_corpus_replay.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace dreamer::fuzz {

using TargetFunction = void (*)(const uint8_t* data, size_t size);

struct Target {
  std::string name;
  TargetFunction function;
};

// Every target linked into this program (the replay program links them all).
std::vector<Target>& targets();
bool register_target(const char* name, TargetFunction function);

// Calls `function`; InputError is the expected outcome of bad input, anything else thrown is a
// finding: its type and message go to stderr and the process aborts (libFuzzer saves the
// input as a crash).
void run_target(TargetFunction function, const uint8_t* data, size_t size);

// Like run_target for one step inside a target: swallows InputError, aborts on the rest.
void expect_only_input_errors(const std::function<void()>& step);

// Named in a finding's message (the replay program sets it to the input file's path).
void set_input_name(const std::string& name);

// Aborts with `what` unless `ok`: an invariant the code must keep on every input.
void check(bool ok, const std::string& what);

// A directory of this process's own (made once, under $TMPDIR or /tmp), for files a target
// reads back; the same path each call, so each input overwrites the previous one's files.
const std::string& scratch_dir();
// Writes `size` bytes to scratch_dir()/name and returns the path.
std::string write_scratch_file(const std::string& name, const uint8_t* data, size_t size);
// Removes scratch_dir()/name (a file) if it exists.
void remove_scratch_file(const std::string& name);

}  // namespace dreamer::fuzz

#ifdef DREAMER_LIBFUZZER
#define DREAMER_FUZZ_TARGET(name)                                           \
  static void fuzz_##name(const uint8_t* data, size_t size);                \
  extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) { \
    ::dreamer::fuzz::run_target(fuzz_##name, data, size);                   \
    return 0;                                                               \
  }                                                                         \
  static void fuzz_##name(const uint8_t* data, size_t size)
#else
#define DREAMER_FUZZ_TARGET(name)                            \
  static void fuzz_##name(const uint8_t* data, size_t size); \
  [[maybe_unused]] static const bool kRegistered_##name =    \
      ::dreamer::fuzz::register_target(#name, fuzz_##name);  \
  static void fuzz_##name(const uint8_t* data, size_t size)
#endif
