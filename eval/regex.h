#pragma once
// std::regex (ECMAScript) with the one Python flag lm-eval task files rely on: a leading
// "(?s)" makes `.` match newlines too (GSM8K's "(?s).*#### "). Translating it here lets task
// files copy lm-eval's regexes unchanged.
#include <regex>
#include <string>

namespace dreamer::eval {

// Throws InputError naming `where` when the pattern does not compile.
std::regex compile_regex(const std::string& pattern, const std::string& where,
                         bool ignore_case = false);

}  // namespace dreamer::eval
