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
  kRegex,          // lm-eval RegexFilter: findall, pick match `group_select`, first non-empty group
  kBoxed,          // lenient MATH: content of the last \boxed{...} / \fbox{...}, stripped
  kWhole,          // the whole output, stripped
  kNone,           // the output unchanged (lm-eval's "none" filter, take_first)
  kDollars,        // hendrycks_math process_results: between the first and last `$`, else all
  kBoxedAnswer,    // lm-eval remove_boxed(last_boxed_only_string(x)); `fallback` if it fails
  kMinervaAnswer,  // minerva_math get_unnormalized_answer ("Final Answer: ... is X. I hope")
};

// With `repeats` (several responses per document), how a filter's per-response answers become
// the document's score (lm-eval filter_list steps after the extraction).
enum class Reduction {
  kTakeFirst,     // lm-eval take_first: the first response's answer (the default)
  kMajorityVote,  // lm-eval majority_vote + take_first: the most common answer, ties to the
                  // one seen first (Python Counter.most_common)
  kPassAtK,       // unbiased pass@k of Chen et al. 2021 over the responses (lm-eval code_eval)
};

enum class AnswerNormalizer {
  kNone,
  kMinerva,  // minerva_math normalize_final_answer, applied to the extracted answer
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
  AnswerNormalizer normalize = AnswerNormalizer::kNone;
  // Over the responses of one document: the first `take_first_k` (0: all; lm-eval
  // take_first_k), then `reduce`; `k` is pass@k's k.
  int64_t take_first_k = 0;
  Reduction reduce = Reduction::kTakeFirst;
  int64_t k = 1;

  static FilterSpec from_json(const nlohmann::json& j, const std::string& path);
  nlohmann::json to_json() const;
};

class Filter {
 public:
  explicit Filter(FilterSpec spec, const std::string& path = "$");
  std::string apply(const std::string& text) const;  // extraction, then the normaliser
  const FilterSpec& spec() const { return spec_; }

 private:
  std::string extract(const std::string& text) const;
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
