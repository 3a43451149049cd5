#pragma once
// Strict reading of JSON objects into typed config structs.
//
// Every key that is read is marked; `finish()` turns any key that was never read into an
// error naming its JSON path, so a typo in a config file is never silently ignored.
#include <nlohmann/json.hpp>

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "util/errors.h"

namespace dreamer {

using json = nlohmann::json;

class JsonReader {
 public:
  // `path` is the JSON path of `object` inside its file, e.g. "$" or "$.arms[2]".
  JsonReader(const json& object, std::string path);

  const std::string& path() const { return path_; }
  std::string path_of(const std::string& key) const { return path_ + "." + key; }
  bool has(const std::string& key) const { return object_.contains(key); }

  // Reads `key` into `out` if present; leaves the default otherwise.
  void get(const std::string& key, int64_t& out);
  void get(const std::string& key, int& out);
  void get(const std::string& key, double& out);
  void get(const std::string& key, bool& out);
  void get(const std::string& key, std::string& out);
  void get(const std::string& key, std::vector<int64_t>& out);
  void get(const std::string& key, std::vector<std::string>& out);

  // Reads a string that must be one of `allowed` and maps it to the matching enum value.
  template <typename Enum>
  void get_enum(const std::string& key, Enum& out,
                const std::vector<std::pair<std::string, Enum>>& allowed) {
    if (!has(key)) return;
    std::string s;
    get(key, s);
    std::string names;
    for (const auto& [name, value] : allowed) {
      if (name == s) {
        out = value;
        return;
      }
      names += (names.empty() ? "" : ", ") + name;
    }
    throw InputError(path_of(key), "expected one of {" + names + "}, got \"" + s + "\"");
  }

  // Any JSON value (arrays of objects, free-form parameters): marks the key as read and
  // returns it, or nullptr when absent. The caller validates its shape.
  const json* raw(const std::string& key);

  // A nested object: marks the key as read and returns a reader for it (nullopt-like: the
  // returned reader is over an empty object when the key is absent).
  JsonReader child(const std::string& key);

  // Marks a key as handled by the caller (arrays and objects parsed elsewhere).
  void mark(const std::string& key) { seen_.insert(key); }

  // Throws InputError naming the first key that was never read.
  void finish() const;

 private:
  const json& at(const std::string& key, json::value_t expected, const char* expected_name);
  static const json& empty_object();

  const json& object_;
  std::string path_;
  std::set<std::string> seen_;
};

// Parses a JSON file; errors name the file and the line/column.
json read_json_file(const std::string& file);

// Enum <-> string helper used by to_json().
template <typename Enum>
std::string enum_name(Enum value, const std::vector<std::pair<std::string, Enum>>& names) {
  for (const auto& [name, v] : names)
    if (v == value) return name;
  return "?";
}

}  // namespace dreamer
