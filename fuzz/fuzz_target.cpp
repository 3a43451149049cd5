#include "fuzz/fuzz_target.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <typeinfo>

#include "util/errors.h"

namespace dreamer::fuzz {

std::vector<Target>& targets() {
  static auto* all = new std::vector<Target>();  // never destroyed: no exit-time work
  return *all;
}

bool register_target(const char* name, TargetFunction function) {
  targets().push_back({name, function});
  return true;
}

namespace {

std::string& input_name() {
  static auto* name = new std::string();
  return *name;
}

[[noreturn]] void finding(const std::string& what) {
  std::fprintf(stderr, "\nfuzz finding%s%s: %s\n", input_name().empty() ? "" : " in ",
               input_name().c_str(), what.c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace

void expect_only_input_errors(const std::function<void()>& step) {
  try {
    step();
  } catch (const InputError&) {
    // the expected answer to bad input
  } catch (const std::exception& e) {
    finding(std::string("uncaught ") + typeid(e).name() + " (not an InputError): " + e.what());
  } catch (...) {
    finding("uncaught exception of a type not derived from std::exception");
  }
}

void run_target(TargetFunction function, const uint8_t* data, size_t size) {
  expect_only_input_errors([&] { function(data, size); });
}

void set_input_name(const std::string& name) {
  input_name() = name;
}

void check(bool ok, const std::string& what) {
  if (!ok) finding("invariant broken: " + what);
}

const std::string& scratch_dir() {
  static const std::string dir = [] {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/dreamer_fuzz_XXXXXX";
    if (!mkdtemp(pattern.data())) finding("cannot make a scratch directory under " + pattern);
    return pattern;
  }();
  return dir;
}

std::string write_scratch_file(const std::string& name, const uint8_t* data, size_t size) {
  const std::string path = scratch_dir() + "/" + name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!out) finding("cannot write scratch file " + path);
  return path;
}

void remove_scratch_file(const std::string& name) {
  std::remove((scratch_dir() + "/" + name).c_str());
}

}  // namespace dreamer::fuzz
