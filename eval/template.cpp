#include "eval/template.h"

#include <regex>

#include "util/errors.h"

namespace dreamer::eval {

namespace {

// Python str.strip() for ASCII whitespace (space, \t \n \v \f \r and \x1c-\x1f).
std::string trim(const std::string& s) {
  static const std::string kSpace = " \t\n\v\f\r\x1c\x1d\x1e\x1f";
  const auto begin = s.find_first_not_of(kSpace);
  if (begin == std::string::npos) return "";
  const auto end = s.find_last_not_of(kSpace);
  return s.substr(begin, end - begin + 1);
}

struct Expression {
  std::string field;
  int64_t index = -1;  // -1: no subscript
  bool trim = false;
};

Expression parse_expression(const std::string& inner, const std::string& where) {
  static const std::regex kExpr(
      R"(^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\[\s*([0-9]+)\s*\])?\s*(\|\s*trim\s*)?$)");
  std::smatch m;
  if (!std::regex_match(inner, m, kExpr))
    throw InputError(where, "template expression {{" + inner +
                                "}} is not one of {{field}}, {{field[i]}}, {{field|trim}}");
  Expression e;
  e.field = m[1];
  if (m[2].matched) e.index = std::stoll(m[2]);
  e.trim = m[3].matched;
  return e;
}

// Calls on_text for literal pieces and on_expr for each {{ }} expression, in order.
template <typename OnText, typename OnExpr>
void scan(const std::string& text, const std::string& where, OnText on_text, OnExpr on_expr) {
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t open = text.find("{{", pos);
    if (open == std::string::npos) {
      on_text(text.substr(pos));
      return;
    }
    const size_t close = text.find("}}", open + 2);
    if (close == std::string::npos) throw InputError(where, "unclosed {{ in template");
    on_text(text.substr(pos, open - pos));
    on_expr(parse_expression(text.substr(open + 2, close - open - 2), where));
    pos = close + 2;
  }
}

std::string value_text(const nlohmann::json& v) {
  return v.is_string() ? v.get<std::string>() : v.dump();
}

}  // namespace

std::string render_template(const std::string& text, const nlohmann::json& doc,
                            const std::string& where) {
  std::string out;
  scan(
      text, where, [&](const std::string& s) { out += s; },
      [&](const Expression& e) {
        if (!doc.is_object() || !doc.contains(e.field))
          throw InputError(where, "document has no field \"" + e.field + "\"");
        const nlohmann::json* v = &doc.at(e.field);
        if (e.index >= 0) {
          if (!v->is_array() || e.index >= static_cast<int64_t>(v->size()))
            throw InputError(where,
                             "field \"" + e.field + "\" has no element " + std::to_string(e.index));
          v = &(*v)[e.index];
        }
        out += e.trim ? trim(value_text(*v)) : value_text(*v);
      });
  return out;
}

void check_template(const std::string& text, const std::string& where) {
  scan(
      text, where, [](const std::string&) {}, [](const Expression&) {});
}

}  // namespace dreamer::eval
