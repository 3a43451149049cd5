#include "eval/prompt.h"

#include <cctype>
#include <regex>

#include "eval/regex.h"
#include "eval/template.h"
#include "util/errors.h"

namespace dreamer::eval {

namespace {

// "['a ) 1', 'b ) 2']" -> "a ) 1<sep>b ) 2"; anything that is not a list of quoted strings
// without escapes is returned unchanged.
std::string join_python_list(const std::string& text, const std::string& separator) {
  if (text.size() < 2 || text.front() != '[' || text.back() != ']') return text;
  std::string out;
  size_t i = 1;
  bool first = true;
  while (i < text.size() - 1) {
    const char quote = text[i];
    if (quote != '\'' && quote != '"') return text;
    const size_t close = text.find(quote, i + 1);
    if (close == std::string::npos) return text;
    const std::string item = text.substr(i + 1, close - i - 1);
    if (item.find('\\') != std::string::npos) return text;
    out += (first ? "" : separator) + item;
    first = false;
    i = close + 1;
    if (text.compare(i, 2, ", ") == 0) {
      i += 2;
    } else if (i != text.size() - 1) {
      return text;
    }
  }
  return out;
}

// Python choice[slice_from:].rstrip(chars), counting characters as code points.
std::string trim_choice(std::string c, const ChoiceSpec& spec) {
  size_t at = 0;
  for (int64_t k = 0; k < spec.slice_from && at < c.size(); ++k) {
    ++at;
    while (at < c.size() && (static_cast<unsigned char>(c[at]) & 0xC0) == 0x80) ++at;
  }
  c = c.substr(at);
  if (!spec.rstrip.empty()) {
    const auto last = c.find_last_not_of(spec.rstrip);
    c.resize(last == std::string::npos ? 0 : last + 1);
  }
  return c;
}

bool space(char c) {
  return std::isspace(static_cast<unsigned char>(c)) != 0;
}

// lm-eval api/utils.py requires_delimiter: neither side has whitespace at the join.
bool requires_delimiter(const std::string& prefix, const std::string& suffix) {
  if (prefix.empty()) return false;
  return !(space(prefix.back()) || (!suffix.empty() && space(suffix.front())));
}

// lm-eval maybe_delimit: prefix + delimiter + suffix unless either is empty or there is
// whitespace at the join.
std::string maybe_delimit(const std::string& prefix, const std::string& suffix,
                          const std::string& delimiter) {
  if (prefix.empty()) return suffix;
  if (suffix.empty()) return prefix;
  return space(prefix.back()) || space(suffix.front()) ? prefix + suffix
                                                       : prefix + delimiter + suffix;
}

}  // namespace

PromptBuilder::PromptBuilder(const TaskSpec& task, const std::vector<nlohmann::json>& shots)
    : task_(task), prefix_(prefix_of(shots)) {}

std::string PromptBuilder::prefix_of(const std::vector<nlohmann::json>& shots) const {
  std::string prefix;
  if (!task_.description.empty())
    prefix = render_template(task_.description, nlohmann::json::object(), "$.description");
  for (const auto& shot : shots) {
    const std::string answer = task_.shots.target.empty()
                                   ? target_text(shot)
                                   : render_template(task_.shots.target, shot, "$.shots.target");
    const auto question = render_template(task_.prompt, shot, "$.prompt (shot)");
    const auto gen_prefix = task_.gen_prefix.empty()
                                ? ""
                                : render_template(task_.gen_prefix, shot, "$.gen_prefix (shot)");
    if (gen_prefix.empty()) {
      prefix += question + task_.target_delimiter + answer + task_.fewshot_delimiter;
      continue;
    }
    // lm-eval build_qa_turn with a gen_prefix: the target delimiter only where neither side
    // has whitespace, then the prefix, a space unless there is whitespace, the answer.
    prefix += question + (requires_delimiter(question, gen_prefix) ? task_.target_delimiter : "") +
              maybe_delimit(gen_prefix, answer, " ") + task_.fewshot_delimiter;
  }
  return prefix;
}

std::string PromptBuilder::question(const nlohmann::json& doc) const {
  auto q = render_template(task_.prompt, doc, "$.prompt");
  if (task_.gen_prefix.empty()) return q;
  // The document's turn ends with its gen_prefix, which the model continues (lm-eval).
  const auto gen_prefix = render_template(task_.gen_prefix, doc, "$.gen_prefix");
  if (gen_prefix.empty()) return q;
  if (requires_delimiter(q, gen_prefix)) q += task_.target_delimiter;
  return q + gen_prefix;
}

std::string PromptBuilder::context(const nlohmann::json& doc) const {
  return prefix_ + question(doc);
}

std::string PromptBuilder::context(const nlohmann::json& doc,
                                   const std::vector<nlohmann::json>& shots) const {
  return prefix_of(shots) + question(doc);
}

std::vector<std::string> PromptBuilder::choices(const nlohmann::json& doc) const {
  const auto& spec = task_.choices;
  if (!spec.list.empty()) return spec.list;
  if (!doc.contains(spec.field))
    throw InputError("$.choices.field", "document has no field \"" + spec.field + "\"");
  const auto& value = doc.at(spec.field);
  std::vector<std::string> out;
  if (!spec.regex.empty()) {
    // A string of lettered options ("a ) 12 , b ) 16 , ..."): group 1 of every match.
    if (!value.is_string())
      throw InputError("$.choices.field", "\"" + spec.field + "\" is not a string");
    auto text = value.get<std::string>();
    if (!spec.python_list_join.empty()) text = join_python_list(text, spec.python_list_join);
    const auto re = compile_regex(spec.regex, "$.choices.regex");
    for (auto it = std::sregex_iterator(text.begin(), text.end(), re); it != std::sregex_iterator();
         ++it)
      out.push_back(trim_choice((*it).size() > 1 ? (*it).str(1) : (*it).str(0), spec));
    return out;
  }
  if (!value.is_array())
    throw InputError("$.choices.field", "\"" + spec.field + "\" is not an array");
  for (const auto& c : value) out.push_back(c.is_string() ? c.get<std::string>() : c.dump());
  return out;
}

int64_t PromptBuilder::gold(const nlohmann::json& doc) const {
  const auto& spec = task_.gold;
  if (!doc.contains(spec.field))
    throw InputError("$.gold.field", "document has no field \"" + spec.field + "\"");
  const auto& value = doc.at(spec.field);
  if (spec.map.empty()) {
    if (!value.is_number_integer())
      throw InputError("$.gold.field", "expected an integer index, got " + value.dump());
    return value.get<int64_t>();
  }
  const std::string key = value.is_string() ? value.get<std::string>() : value.dump();
  for (size_t i = 0; i < spec.map.size(); ++i)
    if (spec.map[i] == key) return static_cast<int64_t>(i);
  throw InputError("$.gold.map", "value " + value.dump() + " is not in the map");
}

std::string PromptBuilder::target_text(const nlohmann::json& doc) const {
  if (task_.output_type == OutputType::kMultipleChoice) {
    const auto options = choices(doc);
    const int64_t g = gold(doc);
    if (g < 0 || g >= static_cast<int64_t>(options.size()))
      throw InputError("$.gold", "gold index " + std::to_string(g) + " outside " +
                                     std::to_string(options.size()) + " choices");
    return options[g];
  }
  return render_template(task_.target, doc, "$.target");
}

std::string PromptBuilder::reference(const nlohmann::json& doc) const {
  const auto text = target_text(doc);
  return task_.has_target_filter ? Filter(task_.target_filter).apply(text) : text;
}

}  // namespace dreamer::eval
