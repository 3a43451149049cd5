#pragma once
// Readers that turn corpus files into documents. Malformed input is an InputError whose
// `where` is "file:line" and whose message says what was expected.
#include <nlohmann/json.hpp>

#include <string>
#include <utility>
#include <vector>

namespace dreamer::data {

// Maps one JSON record to one document: literal text with {field} placeholders
// ("{{" and "}}" are literal braces), e.g. "Question: {question}\nAnswer: {answer}".
class FieldTemplate {
 public:
  static FieldTemplate parse(const std::string& text, const std::string& where);
  // The fields joined by `separator`: {"question","answer"} + "\n" = "{question}\n{answer}".
  static FieldTemplate join(const std::vector<std::string>& fields, const std::string& separator);
  // Renders `record`; a missing field or a non-scalar value throws InputError(where, ...).
  std::string render(const nlohmann::json& record, const std::string& where) const;
  const std::string& text() const { return text_; }

 private:
  std::string text_;
  std::vector<std::pair<bool, std::string>> parts_;  // (is_field, literal text or field name)
};

// One document per non-blank line of a JSONL file (blank lines are skipped, so a trailing
// newline or a blank line at the end is fine); each line must be a JSON object.
std::vector<std::string> read_jsonl_documents(const std::string& file,
                                              const FieldTemplate& mapping);

enum class TextSplit { kFile, kParagraph, kLine };
// Plain text: the whole file, blank-line-separated paragraphs, or lines, as documents; empty
// (whitespace-only) pieces are dropped.
std::vector<std::string> read_text_documents(const std::string& file, TextSplit split);

}  // namespace dreamer::data
