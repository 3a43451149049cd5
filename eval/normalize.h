#pragma once
// Answer comparison after normalisation.
//  - exact match as lm-eval's `exact_match` metric: delete every `regexes_to_ignore` match from
//    both strings, optionally lower-case, then compare (GSM8K: ",", "\$", "(?s).*#### ", "\.$").
//  - MATH equivalence as lm-eval hendrycks_math `is_equiv`: both strings through
//    `strip_math_answer` (\dfrac -> \frac, \left/\right, spaces, degrees, trailing units, ...).
#include <nlohmann/json.hpp>

#include <regex>
#include <string>
#include <vector>

namespace dreamer::eval {

enum class Equivalence { kString, kMath };

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
  MatchSpec spec_;
  std::vector<std::regex> ignore_;
};

// hendrycks_math strip_string, plus thin spaces (\, \! \;), \text{...} wrapping the whole
// answer, and a trailing period.
std::string strip_math_answer(std::string s);

}  // namespace dreamer::eval
