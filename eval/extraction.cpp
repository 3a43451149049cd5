#include "eval/extraction.h"

#include "eval/lmeval_math.h"
#include "eval/regex.h"
#include "util/json_reader.h"

namespace dreamer::eval {

namespace {

const std::vector<std::pair<std::string, FilterKind>>& kind_names() {
  static const std::vector<std::pair<std::string, FilterKind>> kNames = {
      {"regex", FilterKind::kRegex},
      {"boxed", FilterKind::kBoxed},
      {"whole", FilterKind::kWhole},
      {"none", FilterKind::kNone},
      {"dollars", FilterKind::kDollars},
      {"boxed_answer", FilterKind::kBoxedAnswer},
      {"minerva_answer", FilterKind::kMinervaAnswer}};
  return kNames;
}

const std::vector<std::pair<std::string, AnswerNormalizer>>& normalizer_names() {
  static const std::vector<std::pair<std::string, AnswerNormalizer>> kNames = {
      {"none", AnswerNormalizer::kNone}, {"minerva", AnswerNormalizer::kMinerva}};
  return kNames;
}

const std::vector<std::pair<std::string, Reduction>>& reduction_names() {
  static const std::vector<std::pair<std::string, Reduction>> kNames = {
      {"take_first", Reduction::kTakeFirst},
      {"majority_vote", Reduction::kMajorityVote},
      {"pass_at_k", Reduction::kPassAtK}};
  return kNames;
}

std::string strip(const std::string& s) {
  const auto begin = s.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return "";
  return s.substr(begin, s.find_last_not_of(" \t\r\n") - begin + 1);
}

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}

}  // namespace

FilterSpec FilterSpec::from_json(const nlohmann::json& j, const std::string& path) {
  FilterSpec f;
  JsonReader r(j, path);
  r.get("name", f.name);
  r.get_enum("type", f.kind, kind_names());
  r.get("pattern", f.pattern);
  r.get("group_select", f.group_select);
  r.get("fallback", f.fallback);
  r.get("dollars_fallback", f.dollars_fallback);
  r.get_enum("normalize", f.normalize, normalizer_names());
  r.get("take_first_k", f.take_first_k);
  r.get_enum("reduce", f.reduce, reduction_names());
  const bool has_k = r.has("k");
  r.get("k", f.k);
  r.finish();
  if (f.take_first_k < 0) throw InputError(path + ".take_first_k", "must be >= 0");
  if (f.k < 1) throw InputError(path + ".k", "must be >= 1");
  if (has_k && f.reduce != Reduction::kPassAtK)
    throw InputError(path + ".k", "only \"reduce\": \"pass_at_k\" takes k");
  if (f.kind == FilterKind::kRegex && f.pattern.empty())
    throw InputError(path + ".pattern", "a regex filter needs a pattern");
  if (f.kind != FilterKind::kRegex && !f.pattern.empty())
    throw InputError(path + ".pattern", "only regex filters take a pattern");
  return f;
}

nlohmann::json FilterSpec::to_json() const {
  nlohmann::json j = {
      {"name", name}, {"type", enum_name(kind, kind_names())}, {"fallback", fallback}};
  if (kind == FilterKind::kRegex) {
    j["pattern"] = pattern;
    j["group_select"] = group_select;
  }
  if (kind == FilterKind::kBoxed) j["dollars_fallback"] = dollars_fallback;
  if (normalize != AnswerNormalizer::kNone)
    j["normalize"] = enum_name(normalize, normalizer_names());
  // Only when set, so the stored specs (and run fingerprints) of existing tasks are unchanged.
  if (take_first_k > 0) j["take_first_k"] = take_first_k;
  if (reduce != Reduction::kTakeFirst) j["reduce"] = enum_name(reduce, reduction_names());
  if (reduce == Reduction::kPassAtK) j["k"] = k;
  return j;
}

Filter::Filter(FilterSpec spec, const std::string& path) : spec_(std::move(spec)) {
  if (spec_.kind == FilterKind::kRegex) regex_ = compile_regex(spec_.pattern, path + ".pattern");
}

std::string Filter::apply(const std::string& text) const {
  const auto extracted = extract(text);
  return spec_.normalize == AnswerNormalizer::kMinerva ? lmeval::minerva_normalize(extracted)
                                                       : extracted;
}

std::string Filter::extract(const std::string& text) const {
  switch (spec_.kind) {
    case FilterKind::kNone:
      return text;
    case FilterKind::kDollars:
      return lmeval::dollars_answer(text);
    case FilterKind::kBoxedAnswer:
      return lmeval::boxed_answer(text).value_or(spec_.fallback);
    case FilterKind::kMinervaAnswer:
      return lmeval::minerva_unnormalized_answer(text);
    case FilterKind::kWhole:
      return strip(text);
    case FilterKind::kBoxed: {
      if (auto boxed = last_boxed_only_string(text)) return strip(remove_boxed(*boxed));
      if (!spec_.dollars_fallback) return spec_.fallback;
      const auto first = text.find('$'), last = text.rfind('$');
      if (first == std::string::npos || first == last) return strip(text);
      return strip(text.substr(first + 1, last - first - 1));
    }
    case FilterKind::kRegex: {
      // Python re.findall: with groups, each match contributes its groups; lm-eval then takes
      // the first non-empty group of the selected match.
      // A match whose groups are all empty yields the fallback (lm-eval filters the tuple).
      std::vector<std::optional<std::string>> matches;
      for (auto it = std::sregex_iterator(text.begin(), text.end(), *regex_);
           it != std::sregex_iterator(); ++it) {
        const auto& m = *it;
        std::optional<std::string> picked;
        if (m.size() == 1) picked = m.str(0);
        for (size_t g = 1; g < m.size() && !picked; ++g)
          if (m[g].matched && m[g].length() > 0) picked = m.str(g);
        matches.push_back(picked);
      }
      if (matches.empty()) return spec_.fallback;
      int64_t i = spec_.group_select < 0 ? static_cast<int64_t>(matches.size()) + spec_.group_select
                                         : spec_.group_select;
      if (i < 0 || i >= static_cast<int64_t>(matches.size())) return spec_.fallback;
      return matches[i] ? strip(*matches[i]) : spec_.fallback;
    }
  }
  return spec_.fallback;
}

std::optional<std::string> last_boxed_only_string(const std::string& text) {
  // "\boxed 5" (no braces) ends at the next `$`.
  const auto spaced = text.rfind("\\boxed ");
  auto idx = text.rfind("\\boxed");
  if (spaced != std::string::npos && spaced == idx) {
    const auto rest = text.substr(spaced + 7);
    return "\\boxed " + rest.substr(0, rest.find('$'));
  }
  if (idx == std::string::npos) idx = text.rfind("\\fbox");
  if (idx == std::string::npos) return std::nullopt;
  int open = 0;
  for (size_t i = idx; i < text.size(); ++i) {
    if (text[i] == '{') ++open;
    if (text[i] == '}') {
      --open;
      if (open == 0) return text.substr(idx, i - idx + 1);
    }
  }
  return std::nullopt;
}

std::string remove_boxed(const std::string& boxed) {
  for (const std::string left : {"\\boxed{", "\\fbox{"})
    if (starts_with(boxed, left) && boxed.back() == '}')
      return boxed.substr(left.size(), boxed.size() - left.size() - 1);
  if (starts_with(boxed, "\\boxed ")) return boxed.substr(7);
  return boxed;
}

}  // namespace dreamer::eval
