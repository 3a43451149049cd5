#include "eval/normalize.h"

#include <algorithm>
#include <cctype>
#include <regex>

#include "eval/lmeval_math.h"
#include "eval/regex.h"
#include "util/json_reader.h"

namespace dreamer::eval {

namespace {

using lmeval::split;

const std::vector<std::pair<std::string, Equivalence>>& equivalence_names() {
  static const std::vector<std::pair<std::string, Equivalence>> kNames = {
      {"string", Equivalence::kString},
      {"math", Equivalence::kMath},
      {"hendrycks_math", Equivalence::kHendrycks}};
  return kNames;
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size())
    s.replace(pos, from.size(), to);
}

bool is_integer(const std::string& s) {
  if (s.empty()) return false;
  size_t i = (s[0] == '-') ? 1 : 0;
  if (i == s.size()) return false;
  for (; i < s.size(); ++i)
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
  return true;
}

// "\frac12" -> "\frac{1}{2}", "\frac1{72}" -> "\frac{1}{72}".
std::string fix_fracs(const std::string& s) {
  auto parts = split(s, "\\frac");
  std::string out = parts[0];
  for (size_t i = 1; i < parts.size(); ++i) {
    const std::string& sub = parts[i];
    out += "\\frac";
    if (!sub.empty() && sub[0] == '{') {
      out += sub;
      continue;
    }
    if (sub.size() < 2) return s;
    const std::string a(1, sub[0]), b(1, sub[1]);
    if (b != "{")
      out += "{" + a + "}{" + b + "}" + sub.substr(2);
    else
      out += "{" + a + "}" + b + sub.substr(2);
  }
  return out;
}

// "3/4" -> "\frac{3}{4}" for plain integers only.
std::string fix_a_slash_b(const std::string& s) {
  auto parts = split(s, "/");
  if (parts.size() != 2 || !is_integer(parts[0]) || !is_integer(parts[1])) return s;
  return "\\frac{" + parts[0] + "}{" + parts[1] + "}";
}

// "\sqrt3" -> "\sqrt{3}".
std::string fix_sqrt(const std::string& s) {
  auto parts = split(s, "\\sqrt");
  std::string out = parts[0];
  for (size_t i = 1; i < parts.size(); ++i) {
    const std::string& sub = parts[i];
    if (!sub.empty() && sub[0] != '{')
      out += "\\sqrt{" + sub.substr(0, 1) + "}" + sub.substr(1);
    else
      out += "\\sqrt" + sub;
  }
  return out;
}

// One pass of the lenient normaliser.
std::string strip_math_once(std::string s) {
  // Spacing, delimiters and degree marks that do not change the value.
  static const std::vector<std::pair<std::string, std::string>> kRewrites = {
      {"\n", ""},      {"\\!", ""},       {"\\,", ""},       {"\\;", ""},
      {"\\\\", "\\"},  {"tfrac", "frac"}, {"dfrac", "frac"}, {"\\left", ""},
      {"\\right", ""}, {"^{\\circ}", ""}, {"^\\circ", ""},   {"\\$", ""}};
  for (const auto& [from, to] : kRewrites) replace_all(s, from, to);
  // Trailing units: "5 \text{ cm}" -> "5 " (hendrycks remove_right_units), likewise \mbox.
  for (const std::string unit : {"\\text{ ", "\\mbox{ "}) {
    const auto pos = s.find(unit);
    if (pos != std::string::npos && pos > 0) s = s.substr(0, pos);
  }
  // An answer that is only "\text{X}" (e.g. "\text{(C)}") compares as X.
  if (s.rfind("\\text{", 0) == 0 && s.back() == '}' && s.find('}') == s.size() - 1)
    s = s.substr(6, s.size() - 7);
  replace_all(s, "\\%", "");
  replace_all(s, "%", "");
  replace_all(s, " .", " 0.");
  replace_all(s, "{.", "{0.");
  if (s.empty()) return s;
  if (s[0] == '.') s = "0" + s;
  // "k = 5" -> "5" when the left side is a short name.
  auto sides = split(s, "=");
  if (sides.size() == 2 && sides[0].size() <= 2) s = sides[1];
  s = fix_sqrt(s);
  s.erase(std::remove(s.begin(), s.end(), ' '), s.end());
  s = fix_fracs(s);
  if (s == "0.5") s = "\\frac{1}{2}";
  s = fix_a_slash_b(s);
  while (!s.empty() && s.back() == '.') s.pop_back();
  // Thousands separators of a plain number ("10,000" from "10,\!000"); tuples keep commas.
  static const std::regex kThousands(R"(^-?\d{1,3}(,\d{3})+(\.\d+)?$)");
  if (std::regex_match(s, kThousands)) s.erase(std::remove(s.begin(), s.end(), ','), s.end());
  return s;
}

}  // namespace

std::string strip_math_answer(std::string s) {
  // A wrapper can hide what a later step removes ("\text{X}\%": the % sits outside the
  // wrapper, so the first pass drops it and the second unwraps). Each pass only shortens or
  // rewrites towards a canonical form; four passes reach the fixed point in practice.
  for (int pass = 0; pass < 4; ++pass) {
    const auto next = strip_math_once(s);
    if (next == s) break;
    s = next;
  }
  return s;
}

MatchSpec MatchSpec::from_json(const nlohmann::json& j, const std::string& path) {
  MatchSpec m;
  JsonReader r(j, path);
  r.get("regexes_to_ignore", m.regexes_to_ignore);
  r.get("ignore_case", m.ignore_case);
  r.get_enum("equivalence", m.equivalence, equivalence_names());
  r.finish();
  return m;
}

nlohmann::json MatchSpec::to_json() const {
  return {{"regexes_to_ignore", regexes_to_ignore},
          {"ignore_case", ignore_case},
          {"equivalence", enum_name(equivalence, equivalence_names())}};
}

AnswerMatcher::AnswerMatcher(MatchSpec spec, const std::string& path) : spec_(std::move(spec)) {
  for (size_t i = 0; i < spec_.regexes_to_ignore.size(); ++i)
    ignore_.push_back(compile_regex(spec_.regexes_to_ignore[i],
                                    path + ".regexes_to_ignore[" + std::to_string(i) + "]"));
}

std::string AnswerMatcher::ignore_and_fold(const std::string& answer) const {
  std::string s = answer;
  for (const auto& re : ignore_) s = std::regex_replace(s, re, "");
  if (spec_.ignore_case)
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string AnswerMatcher::normalize(const std::string& answer) const {
  std::string s = ignore_and_fold(answer);
  if (spec_.equivalence == Equivalence::kMath) s = strip_math_answer(s);
  if (spec_.equivalence == Equivalence::kHendrycks) s = lmeval::strip_string(s).value_or(s);
  return s;
}

bool AnswerMatcher::match(const std::string& prediction, const std::string& reference) const {
  if (spec_.equivalence == Equivalence::kHendrycks) {
    // is_equiv falls back to the raw strings when strip_string raises on either.
    return lmeval::is_equiv(ignore_and_fold(prediction), ignore_and_fold(reference));
  }
  return normalize(prediction) == normalize(reference);
}

}  // namespace dreamer::eval
