#include "eval/prompt.h"

#include <regex>

#include "eval/regex.h"
#include "eval/template.h"
#include "util/errors.h"

namespace dreamer::eval {

PromptBuilder::PromptBuilder(const TaskSpec& task, const std::vector<nlohmann::json>& shots)
    : task_(task) {
  if (!task.description.empty())
    prefix_ = render_template(task.description, nlohmann::json::object(), "$.description");
  for (const auto& shot : shots)
    prefix_ += render_template(task.prompt, shot, "$.prompt (shot)") + task.target_delimiter +
               target_text(shot) + task.fewshot_delimiter;
}

std::string PromptBuilder::context(const nlohmann::json& doc) const {
  return prefix_ + render_template(task_.prompt, doc, "$.prompt");
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
    const auto text = value.get<std::string>();
    const auto re = compile_regex(spec.regex, "$.choices.regex");
    for (auto it = std::sregex_iterator(text.begin(), text.end(), re); it != std::sregex_iterator();
         ++it)
      out.push_back((*it).size() > 1 ? (*it).str(1) : (*it).str(0));
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
