#include "eval/lmeval_math.h"

#include <vector>

namespace dreamer::eval::lmeval {

namespace {

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

bool starts_with(const std::string& s, const std::string& prefix, size_t at = 0) {
  return s.compare(at, prefix.size(), prefix) == 0;
}

// Python str.replace: every non-overlapping occurrence, left to right.
std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size())
    s.replace(pos, from.size(), to);
  return s;
}

// Bytes of the UTF-8 code point starting at `pos` (1 for a stray continuation byte).
size_t code_point_bytes(const std::string& s, size_t pos) {
  const auto c = static_cast<unsigned char>(s[pos]);
  size_t n = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
  size_t i = 1;
  while (i < n && pos + i < s.size() && (static_cast<unsigned char>(s[pos + i]) & 0xC0) == 0x80)
    ++i;
  return i;
}

size_t code_points(const std::string& s) {
  size_t n = 0;
  for (size_t i = 0; i < s.size(); i += code_point_bytes(s, i)) ++n;
  return n;
}

bool python_space(unsigned char c) {
  return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

std::string python_strip(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && python_space(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && python_space(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

// str(int(text)) as Python's int() reads a literal (surrounding whitespace, a sign, ASCII or
// full-width digits with single underscores between them); nullopt: ValueError.
std::optional<std::string> python_int_text(const std::string& text) {
  const std::string t = python_strip(text);
  size_t i = 0;
  bool negative = false;
  if (i < t.size() && (t[i] == '+' || t[i] == '-')) negative = t[i++] == '-';
  std::string digits;
  bool last_underscore = true;  // no leading underscore
  for (; i < t.size(); ++i) {
    if (t[i] == '_') {
      if (last_underscore) return std::nullopt;
      last_underscore = true;
    } else if (t[i] >= '0' && t[i] <= '9') {
      digits.push_back(t[i]);
      last_underscore = false;
    } else if (t.compare(i, 2, "\xef\xbc") == 0 && i + 2 < t.size() &&
               static_cast<unsigned char>(t[i + 2]) >= 0x90 &&
               static_cast<unsigned char>(t[i + 2]) <= 0x99) {
      // Full-width digits (U+FF10..U+FF19) are decimal digits to int().
      digits.push_back(static_cast<char>('0' + (static_cast<unsigned char>(t[i + 2]) - 0x90)));
      last_underscore = false;
      i += 2;
    } else {
      return std::nullopt;
    }
  }
  if (digits.empty() || last_underscore) return std::nullopt;
  const auto first = digits.find_first_not_of('0');
  if (first == std::string::npos) return std::string("0");
  return (negative ? "-" : "") + digits.substr(first);
}

std::optional<std::string> remove_right_units(const std::string& s) {
  if (!contains(s, "\\text{ ")) return s;
  const auto splits = split(s, "\\text{ ");
  if (splits.size() != 2) return std::nullopt;  // assert len(splits) == 2
  return splits[0];
}

std::optional<std::string> fix_sqrt(const std::string& s) {
  if (!contains(s, "\\sqrt")) return s;
  const auto splits = split(s, "\\sqrt");
  std::string out = splits[0];
  for (size_t i = 1; i < splits.size(); ++i) {
    const auto& part = splits[i];
    if (part.empty()) return std::nullopt;  // split[0] of an empty string
    if (part[0] != '{') {
      const size_t a = code_point_bytes(part, 0);
      out += "\\sqrt{" + part.substr(0, a) + "}" + part.substr(a);
    } else {
      out += "\\sqrt" + part;
    }
  }
  return out;
}

std::optional<std::string> fix_fracs(const std::string& s) {
  const auto parts = split(s, "\\frac");
  std::string out = parts[0];
  for (size_t i = 1; i < parts.size(); ++i) {
    const auto& part = parts[i];
    out += "\\frac";
    if (part.empty()) return std::nullopt;  // substr[0] of an empty string
    if (part[0] == '{') {
      out += part;
      continue;
    }
    if (code_points(part) < 2) return s;  // lm-eval returns its input unchanged
    const size_t a = code_point_bytes(part, 0);
    const size_t b = code_point_bytes(part, a);
    const std::string first = part.substr(0, a), second = part.substr(a, b);
    const std::string rest = part.substr(a + b);
    if (second != "{")
      out += "{" + first + "}{" + second + "}" + rest;
    else
      out += "{" + first + "}" + second + rest;
  }
  return out;
}

std::optional<std::string> fix_a_slash_b(const std::string& s) {
  const auto parts = split(s, "/");
  if (parts.size() != 2) return s;
  const auto a = python_int_text(parts[0]);
  const auto b = python_int_text(parts[1]);
  if (!a || !b) return std::nullopt;  // int() raises ValueError, which propagates
  if (s != *a + "/" + *b) return s;   // the AssertionError lm-eval catches
  return "\\frac{" + *a + "}{" + *b + "}";
}

// Python re.sub of `(OPEN)(.*?)(\})` by group 2: `.` does not cross a newline.
std::string unwrap_lazy(const std::string& s, const std::string& open) {
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    if (starts_with(s, open, i)) {
      const size_t from = i + open.size();
      const size_t close = s.find('}', from);
      const size_t newline = s.find('\n', from);
      if (close != std::string::npos && (newline == std::string::npos || close < newline)) {
        out += s.substr(from, close - from);
        i = close + 1;
        continue;
      }
    }
    out.push_back(s[i++]);
  }
  return out;
}

// Python re.sub of `(\\boxed\{)(.*)(\})` by group 2: greedy up to the line's last `}`.
std::string unwrap_boxed_greedy(const std::string& s) {
  static const std::string kOpen = "\\boxed{";
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    if (starts_with(s, kOpen, i)) {
      const size_t from = i + kOpen.size();
      const size_t line_end = std::min(s.find('\n', from), s.size());
      const size_t close = line_end > from ? s.rfind('}', line_end - 1) : std::string::npos;
      if (close != std::string::npos && close >= from) {
        out += s.substr(from, close - from);
        i = close + 1;
        continue;
      }
    }
    out.push_back(s[i++]);
  }
  return out;
}

// Python re.sub(r"(frac)([^{])(.)", "frac{\2}{\3}") (with_third) and
// re.sub(r"(sqrt)([^{])", "sqrt{\2}") (without).
std::string brace_shorthand(const std::string& s, const std::string& name, bool with_third) {
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    if (starts_with(s, name, i) && i + name.size() < s.size() && s[i + name.size()] != '{') {
      const size_t a_at = i + name.size();
      const size_t a = code_point_bytes(s, a_at);
      if (!with_third) {
        out += name + "{" + s.substr(a_at, a) + "}";
        i = a_at + a;
        continue;
      }
      const size_t b_at = a_at + a;
      if (b_at < s.size() && s[b_at] != '\n') {
        const size_t b = code_point_bytes(s, b_at);
        out += name + "{" + s.substr(a_at, a) + "}{" + s.substr(b_at, b) + "}";
        i = b_at + b;
        continue;
      }
    }
    out.push_back(s[i++]);
  }
  return out;
}

// Python re.sub(r"(.*?)(\$)(.*?)(\$)(.*)", "$\3$"): on each line with two `$` or more, the
// line becomes the text between its first two `$`, in `$`.
std::string first_math_span_per_line(const std::string& s) {
  std::string out;
  const auto lines = split(s, "\n");
  for (size_t l = 0; l < lines.size(); ++l) {
    const auto& line = lines[l];
    const size_t first = line.find('$');
    const size_t second = first == std::string::npos ? first : line.find('$', first + 1);
    if (l > 0) out.push_back('\n');
    if (second == std::string::npos)
      out += line;
    else
      out += "$" + line.substr(first + 1, second - first - 1) + "$";
  }
  return out;
}

// Python str.isdigit for ASCII digits and the superscript digits.
bool python_isdigit(const std::string& s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size();) {
    const size_t n = code_point_bytes(s, i);
    const std::string c = s.substr(i, n);
    const bool digit = (n == 1 && c[0] >= '0' && c[0] <= '9') || c == "\u00b2" || c == "\u00b3" ||
                       c == "\u00b9" || c == "\u2070" || (c >= "\u2074" && c <= "\u2079" && n == 3);
    if (!digit) return false;
    i += n;
  }
  return true;
}

}  // namespace

// Python str.split(sep) for a non-empty separator.
std::vector<std::string> split(const std::string& s, const std::string& sep) {
  std::vector<std::string> parts;
  size_t start = 0, pos;
  while ((pos = s.find(sep, start)) != std::string::npos) {
    parts.push_back(s.substr(start, pos - start));
    start = pos + sep.size();
  }
  parts.push_back(s.substr(start));
  return parts;
}

std::optional<std::string> last_boxed_only_string(const std::string& s) {
  if (contains(s, "\\boxed ")) {
    const auto after = split(s, "\\boxed ").back();
    return "\\boxed " + after.substr(0, after.find('$'));
  }
  size_t idx = s.rfind("\\boxed");
  if (idx == std::string::npos) idx = s.rfind("\\fbox");
  if (idx == std::string::npos) return std::nullopt;
  int open = 0;
  for (size_t i = idx; i < s.size(); ++i) {
    if (s[i] == '{') ++open;
    if (s[i] == '}' && --open == 0) return s.substr(idx, i - idx + 1);
  }
  return std::nullopt;
}

std::optional<std::string> remove_boxed(const std::string& s) {
  if (contains(s, "\\boxed ")) {
    if (!starts_with(s, "\\boxed ")) return std::nullopt;
    return s.substr(7);
  }
  if (!starts_with(s, "\\boxed{") || s.back() != '}') return std::nullopt;
  return s.substr(7, s.size() - 8);
}

std::optional<std::string> boxed_answer(const std::string& s) {
  const auto boxed = last_boxed_only_string(s);
  if (!boxed) return std::nullopt;
  return remove_boxed(*boxed);
}

std::optional<std::string> strip_string(const std::string& input) {
  std::string s = input;
  s = replace_all(s, "\n", "");
  s = replace_all(s, "\\!", "");
  s = replace_all(s, "\\\\", "\\");
  s = replace_all(s, "tfrac", "frac");
  s = replace_all(s, "dfrac", "frac");
  s = replace_all(s, "\\left", "");
  s = replace_all(s, "\\right", "");
  s = replace_all(s, "^{\\circ}", "");
  s = replace_all(s, "^\\circ", "");
  s = replace_all(s, "\\$", "");
  auto units = remove_right_units(s);
  if (!units) return std::nullopt;
  s = replace_all(*units, "\\%", "");  // lm-eval's second replace ("\%") is the same string
  s = replace_all(s, " .", " 0.");
  s = replace_all(s, "{.", "{0.");
  if (s.empty()) return s;
  if (s[0] == '.') s = "0" + s;
  const auto sides = split(s, "=");
  if (sides.size() == 2 && code_points(sides[0]) <= 2) s = sides[1];
  auto sqrt = fix_sqrt(s);
  if (!sqrt) return std::nullopt;
  s = replace_all(*sqrt, " ", "");
  auto fracs = fix_fracs(s);
  if (!fracs) return std::nullopt;
  s = *fracs;
  if (s == "0.5") s = "\\frac{1}{2}";
  return fix_a_slash_b(s);
}

bool is_equiv(const std::string& a, const std::string& b) {
  const auto sa = strip_string(a);
  const auto sb = sa ? strip_string(b) : std::nullopt;
  if (!sa || !sb) return a == b;
  return *sa == *sb;
}

std::string dollars_answer(const std::string& output) {
  const size_t first = output.find('$');
  const size_t last = output.rfind('$');
  if (first == std::string::npos || first == last) return output;
  return output.substr(first + 1, last - first - 1);
}

std::string minerva_unnormalized_answer(const std::string& output) {
  static const std::string kPrefix = "Final Answer: The final answer is";
  static const std::string kSuffix = " I hope it is correct";
  const std::string text = output + "I hope it is correct.";
  // re.search: the leftmost start, then the shortest group 1 (which cannot hold a newline),
  // then any character, the suffix, and any character (the pattern's unescaped dots).
  for (size_t p = text.find(kPrefix); p != std::string::npos; p = text.find(kPrefix, p + 1)) {
    const size_t from = p + kPrefix.size();
    for (size_t g = from; g < text.size() && text[g] != '\n'; g += code_point_bytes(text, g)) {
      const size_t after_dot = g + code_point_bytes(text, g);
      const size_t end = after_dot + kSuffix.size();
      if (starts_with(text, kSuffix, after_dot) && end < text.size() && text[end] != '\n')
        return python_strip(text.substr(from, g - from));
    }
  }
  return "[invalidanswer]";
}

std::string minerva_normalize(const std::string& answer) {
  static const std::vector<std::pair<std::string, std::string>> kSubstitutions = {
      {"an ", ""},          {"a ", ""},
      {".$", "$"},          {"\\$", ""},
      {"\\ ", ""},          {" ", ""},
      {"mbox", "text"},     {",\\text{and}", ","},
      {"\\text{and}", ","}, {"\\text{m}", "\\text{}"}};
  static const std::vector<std::string> kRemoved = {"square",       "ways",
                                                    "integers",     "dollars",
                                                    "mph",          "inches",
                                                    "ft",           "hours",
                                                    "km",           "units",
                                                    "\\ldots",      "sue",
                                                    "points",       "feet",
                                                    "minutes",      "digits",
                                                    "cents",        "degrees",
                                                    "cm",           "gm",
                                                    "pounds",       "meters",
                                                    "meals",        "edges",
                                                    "students",     "childrentickets",
                                                    "multiples",    "\\text{s}",
                                                    "\\text{.}",    "\\text{\ns}",
                                                    "\\text{}^2",   "\\text{}^3",
                                                    "\\text{\n}",   "\\text{}",
                                                    "\\mathrm{th}", "^\\circ",
                                                    "^{\\circ}",    "\\;",
                                                    ",\\!",         "{,}",
                                                    "\"",           "\\dots"};
  std::string s = split(answer, "=").back();
  for (const auto& [before, after] : kSubstitutions) s = replace_all(s, before, after);
  for (const auto& expr : kRemoved) s = replace_all(s, expr, "");
  s = first_math_span_per_line(s);
  s = unwrap_lazy(s, "\\text{");
  s = unwrap_lazy(s, "\\textbf{");
  s = unwrap_lazy(s, "\\overline{");
  s = unwrap_boxed_greedy(s);
  s = brace_shorthand(s, "frac", true);
  s = brace_shorthand(s, "sqrt", false);
  s = replace_all(s, "$", "");
  if (python_isdigit(replace_all(s, ",", ""))) s = replace_all(s, ",", "");
  return s;
}

}  // namespace dreamer::eval::lmeval
