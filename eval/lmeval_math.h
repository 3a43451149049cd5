#pragma once
// The answer handling of lm-eval's MATH tasks (lm_eval/tasks/hendrycks_math/utils.py and
// lm_eval/tasks/minerva_math/utils.py at 4e7e0d47), reimplemented with the same behaviour,
// including where Python raises: a step that raises in lm-eval returns nullopt here, and the
// callers do what lm-eval's callers do with the exception.
//
// Python indexes strings by code point; these functions do too where it matters (the first
// character after \sqrt or \frac, the length of a "k =" prefix). Python's int() and isdigit()
// are matched for ASCII digits (and isdigit for the superscripts); other Unicode digits are
// treated as non-digits.
#include <optional>
#include <string>
#include <vector>

namespace dreamer::eval::lmeval {

// Python str.split(sep) for a non-empty separator (the MATH normalisers split as Python does).
std::vector<std::string> split(const std::string& s, const std::string& sep);

// last_boxed_only_string: the last "\boxed{...}" / "\fbox{...}" with balanced braces; if
// "\boxed " occurs anywhere, "\boxed " + the text after its last occurrence up to the next `$`.
std::optional<std::string> last_boxed_only_string(const std::string& s);
// remove_boxed: "\boxed X" -> "X", "\boxed{X}" -> "X"; nullopt where lm-eval's asserts fail.
std::optional<std::string> remove_boxed(const std::string& s);
// remove_boxed(last_boxed_only_string(s)), nullopt where either fails.
std::optional<std::string> boxed_answer(const std::string& s);

// hendrycks_math strip_string; nullopt where Python raises (two "\text{ ", a \sqrt or \frac
// with nothing after it, "a/b" whose parts are not integers).
std::optional<std::string> strip_string(const std::string& s);
// hendrycks_math is_equiv: strip_string of both compared; if either raises, the raw strings.
bool is_equiv(const std::string& a, const std::string& b);
// hendrycks_math process_results' answer: the text between the first and the last `$` of the
// output when it holds at least two, else the whole output (not stripped).
std::string dollars_answer(const std::string& output);

// minerva_math get_unnormalized_answer: group 1 of
// "Final Answer: The final answer is(.*?). I hope it is correct." searched in
// output + "I hope it is correct.", stripped; "[invalidanswer]" without a match.
std::string minerva_unnormalized_answer(const std::string& output);
// minerva_math normalize_final_answer (Lewkowycz et al. 2022, appendix D).
std::string minerva_normalize(const std::string& answer);

}  // namespace dreamer::eval::lmeval
