#include "util/json_reader.h"

#include <fstream>
#include <sstream>

namespace dreamer {

JsonReader::JsonReader(const json& object, std::string path)
    : object_(object), path_(std::move(path)) {
  if (!object_.is_object())
    throw InputError(path_, std::string("expected an object, got ") + object_.type_name());
}

const json& JsonReader::empty_object() {
  static const json kEmpty = json::object();
  return kEmpty;
}

const json& JsonReader::at(const std::string& key, json::value_t expected,
                           const char* expected_name) {
  seen_.insert(key);
  const json& v = object_.at(key);
  bool ok = v.type() == expected;
  // JSON has one number type; accept integers where floats are expected.
  if (expected == json::value_t::number_float && v.is_number()) ok = true;
  if (expected == json::value_t::number_integer && v.is_number_integer()) ok = true;
  if (!ok)
    throw InputError(path_of(key), std::string("expected ") + expected_name + ", got " +
                                       v.type_name() + " " + v.dump());
  return v;
}

void JsonReader::get(const std::string& key, int64_t& out) {
  if (has(key)) out = at(key, json::value_t::number_integer, "an integer").get<int64_t>();
}
void JsonReader::get(const std::string& key, int& out) {
  if (has(key))
    out = static_cast<int>(at(key, json::value_t::number_integer, "an integer").get<int64_t>());
}
void JsonReader::get(const std::string& key, double& out) {
  if (has(key)) out = at(key, json::value_t::number_float, "a number").get<double>();
}
void JsonReader::get(const std::string& key, bool& out) {
  if (has(key)) out = at(key, json::value_t::boolean, "true or false").get<bool>();
}
void JsonReader::get(const std::string& key, std::string& out) {
  if (has(key)) out = at(key, json::value_t::string, "a string").get<std::string>();
}
namespace {

// Copies every element of `array` into `out`; an element of the wrong type is an error naming
// its own path ("$.key[3]").
template <typename T>
void read_elements(const json& array, const std::string& path,
                   bool (json::*is_type)() const noexcept, const char* expected,
                   std::vector<T>& out) {
  out.clear();
  for (size_t i = 0; i < array.size(); ++i) {
    if (!(array[i].*is_type)())
      throw InputError(path + "[" + std::to_string(i) + "]",
                       std::string("expected ") + expected + ", got " + array[i].type_name());
    out.push_back(array[i].get<T>());
  }
}

}  // namespace

void JsonReader::get(const std::string& key, std::vector<int64_t>& out) {
  if (!has(key)) return;
  read_elements(at(key, json::value_t::array, "an array of integers"), path_of(key),
                &json::is_number_integer, "an integer", out);
}

void JsonReader::get(const std::string& key, std::vector<std::string>& out) {
  if (!has(key)) return;
  read_elements(at(key, json::value_t::array, "an array of strings"), path_of(key),
                &json::is_string, "a string", out);
}

const json* JsonReader::raw(const std::string& key) {
  if (!has(key)) return nullptr;
  seen_.insert(key);
  return &object_.at(key);
}

JsonReader JsonReader::child(const std::string& key) {
  if (!has(key)) return JsonReader(empty_object(), path_of(key));
  return JsonReader(at(key, json::value_t::object, "an object"), path_of(key));
}

void JsonReader::finish() const {
  for (auto it = object_.begin(); it != object_.end(); ++it)
    if (!seen_.count(it.key())) throw InputError(path_of(it.key()), "unknown key");
}

json read_json_file(const std::string& file) {
  std::ifstream in(file);
  if (!in) throw InputError(file, "cannot open file");
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    // Turn the byte offset into line:column for the message.
    size_t line = 1, col = 1;
    for (size_t i = 0; i < e.byte - 1 && i < text.size(); ++i) {
      if (text[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    throw InputError(file + ":" + std::to_string(line) + ":" + std::to_string(col),
                     std::string("invalid JSON: ") + e.what());
  } catch (const json::exception& e) {  // a number too large for a double (found by fuzzing)
    throw InputError(file, std::string("invalid JSON: ") + e.what());
  }
}

}  // namespace dreamer
