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
    throw InputError(path_of(key),
                     std::string("expected ") + expected_name + ", got " + v.type_name() + " " +
                         v.dump());
  return v;
}

void JsonReader::get(const std::string& key, int64_t& out) {
  if (has(key)) out = at(key, json::value_t::number_integer, "an integer").get<int64_t>();
}
void JsonReader::get(const std::string& key, int& out) {
  if (has(key)) out = static_cast<int>(at(key, json::value_t::number_integer, "an integer").get<int64_t>());
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

// The items of a JSON array that must all pass `ok`; errors name the failing element.
template <typename T, typename Ok>
std::vector<T> array_items(const json& v, const std::string& path, const char* item_name, Ok ok) {
  std::vector<T> out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (!ok(v[i]))
      throw InputError(path + "[" + std::to_string(i) + "]",
                       std::string("expected ") + item_name + ", got " + v[i].type_name());
    out.push_back(v[i].get<T>());
  }
  return out;
}

}  // namespace

void JsonReader::get(const std::string& key, std::vector<int64_t>& out) {
  if (!has(key)) return;
  out = array_items<int64_t>(at(key, json::value_t::array, "an array of integers"), path_of(key), "an integer",
                             [](const json& x) { return x.is_number_integer(); });
}

void JsonReader::get(const std::string& key, std::vector<std::string>& out) {
  if (!has(key)) return;
  out = array_items<std::string>(at(key, json::value_t::array, "an array of strings"), path_of(key), "a string",
                                 [](const json& x) { return x.is_string(); });
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
  }
}

}  // namespace dreamer
