#pragma once
// Answer extraction from generated text ("filters" in lm-eval): each filter turns a model
// output into the answer string that is scored. A task may declare several; every metric is
// reported once per filter (lm-eval's "exact_match,strict-match").
#include <nlohmann/json.hpp>

#include <optional>
#include <regex>
#include <string>

namespace dreamer::eval {

enum class FilterKind {
  kRegex,  // lm-eval RegexFilter: findall, pick match `group_select`, first non-empty group
  kBoxed,  // content of the last \boxed{...} / \fbox{...} (nested braces), MATH style
  kWhole,  // the whole output, stripped
};

struct FilterSpec {
  std::string name = "whole";
  FilterKind kind = FilterKind::kWhole;
  std::string pattern;                 // kRegex
  int64_t group_select = 0;            // kRegex: index into the matches, negative from the end
  std::string fallback = "[invalid]";  // kRegex and kBoxed when nothing matches
  // kBoxed: when no \boxed{} is present, use the text between the first and last `$`
  // (lm-eval hendrycks_math), else the whole output. Off: use `fallback`.
  bool dollars_fallback = false;

  static FilterSpec from_json(const nlohmann::json& j, const std::string& path);
  nlohmann::json to_json() const;
};

class Filter {
 public:
  explicit Filter(FilterSpec spec, const std::string& path = "$");
  std::string apply(const std::string& text) const;
  const FilterSpec& spec() const { return spec_; }

 private:
  FilterSpec spec_;
  std::optional<std::regex> regex_;
};

// The last "\boxed{...}" (or "\boxed ..." / "\fbox{...}") substring including the command,
// with nested braces balanced; nullopt when there is none or it is unbalanced
// (lm-eval hendrycks_math last_boxed_only_string).
std::optional<std::string> last_boxed_only_string(const std::string& text);
// "\boxed{X}" -> "X", "\boxed X" -> "X", "\fbox{X}" -> "X"; other strings unchanged.
std::string remove_boxed(const std::string& boxed);

}  // namespace dreamer::eval
