#include "data/corpus_readers.h"
#include "util/errors.h"

namespace dreamer::data {

FieldTemplate FieldTemplate::parse(const std::string& text, const std::string& where) {
  FieldTemplate t;
  t.text_ = text;
  std::string literal;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if ((c == '{' || c == '}') && i + 1 < text.size() && text[i + 1] == c) {
      literal.push_back(c);  // "{{" or "}}"
      ++i;
    } else if (c == '{') {
      const size_t close = text.find('}', i);
      if (close == std::string::npos)
        throw InputError(where, "unterminated \"{\" at offset " + std::to_string(i) +
                                    " (use \"{{\" for a literal brace)");
      const std::string name = text.substr(i + 1, close - i - 1);
      if (name.empty() || name.find('{') != std::string::npos)
        throw InputError(where,
                         "expected a field name inside \"{...}\" at offset " + std::to_string(i));
      if (!literal.empty()) t.parts_.push_back({false, literal});
      literal.clear();
      t.parts_.push_back({true, name});
      i = close;
    } else if (c == '}') {
      throw InputError(where, "unmatched \"}\" at offset " + std::to_string(i) +
                                  " (use \"}}\" for a literal brace)");
    } else {
      literal.push_back(c);
    }
  }
  if (!literal.empty()) t.parts_.push_back({false, literal});
  return t;
}

FieldTemplate FieldTemplate::join(const std::vector<std::string>& fields,
                                  const std::string& separator) {
  FieldTemplate t;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) {
      t.parts_.push_back({false, separator});
      t.text_ += separator;
    }
    t.parts_.push_back({true, fields[i]});
    t.text_ += "{" + fields[i] + "}";
  }
  return t;
}

std::string FieldTemplate::render(const nlohmann::json& record, const std::string& where) const {
  std::string out;
  for (const auto& [is_field, value] : parts_) {
    if (!is_field) {
      out += value;
      continue;
    }
    auto it = record.find(value);
    if (it == record.end()) throw InputError(where, "missing field \"" + value + "\"");
    if (it->is_string())
      out += it->get<std::string>();
    else if (it->is_number() || it->is_boolean())
      out += it->dump();
    else
      throw InputError(
          where, "field \"" + value + "\": expected a string or a number, got " + it->type_name());
  }
  return out;
}

}  // namespace dreamer::data
