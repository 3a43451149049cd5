#include "eval/regex.h"

#include "util/errors.h"

namespace dreamer::eval {

namespace {

// Replaces every unescaped `.` outside a character class by [\s\S] (dot-all).
std::string dot_all(const std::string& p) {
  std::string out;
  bool in_class = false;
  for (size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      out += c;
      out += p[++i];
    } else if (c == '[') {
      in_class = true;
      out += c;
    } else if (c == ']') {
      in_class = false;
      out += c;
    } else if (c == '.' && !in_class) {
      out += "[\\s\\S]";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::regex compile_regex(const std::string& pattern, const std::string& where, bool ignore_case) {
  std::string p = pattern;
  if (p.rfind("(?s)", 0) == 0) p = dot_all(p.substr(4));
  auto flags = std::regex::ECMAScript;
  if (ignore_case) flags |= std::regex::icase;
  try {
    return std::regex(p, flags);
  } catch (const std::regex_error& e) {
    throw InputError(where, "invalid regex \"" + pattern + "\": " + e.what());
  }
}

}  // namespace dreamer::eval
