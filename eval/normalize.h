#pragma once
// Answer comparison after normalisation.
//  - exact match as lm-eval's `exact_match` metric: delete every `regexes_to_ignore` match from
//    both strings, optionally lower-case, then compare (GSM8K: ",", "\$", "(?s).*#### ", "\.$").
//  - "hendrycks_math": lm-eval hendrycks_math `is_equiv` exactly (eval/lmeval_math.h).
//  - "math": a lenient MATH equivalence, `strip_math_answer` (hendrycks' strip_string plus
//    thin spaces, bare %, \text{} wrappers, trailing periods and thousands separators).
#include <nlohmann/json.hpp>

#include <regex>
#include <string>
#include <vector>

namespace dreamer::eval {

enum class Equivalence { kString, kMath, kHendrycks };

struct MatchSpec {
  std::vector<std::string> regexes_to_ignore;
  bool ignore_case = false;
  Equivalence equivalence = Equivalence::kString;

  static MatchSpec from_json(const nlohmann::json& j, const std::string& path);
  nlohmann::json to_json() const;
};

class AnswerMatcher {
 public:
  explicit AnswerMatcher(MatchSpec spec, const std::string& path = "$");
  std::string normalize(const std::string& answer) const;
  bool match(const std::string& prediction, const std::string& reference) const;
  const MatchSpec& spec() const { return spec_; }

 private:
  std::string ignore_and_fold(const std::string& answer) const;  // regexes_to_ignore, case
  MatchSpec spec_;
  std::vector<std::regex> ignore_;
};

// The lenient normaliser: hendrycks_math strip_string, plus thin spaces (\, \! \;), bare %,
// \text{...} wrapping the whole answer, trailing periods and thousands separators, applied
// until nothing changes (so "\text{X}\%" and "\text{X}." both become X).
std::string strip_math_answer(std::string s);

}  // namespace dreamer::eval
