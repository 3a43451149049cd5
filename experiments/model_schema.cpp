#include "experiments/model_schema.h"

#include "baselines/dense_transformer.h"
#include "baselines/huginn.h"
#include "baselines/moe_transformer.h"
#include "baselines/moeut.h"
#include "baselines/universal_transformer.h"
#include "models/dreamer.h"
#include "util/errors.h"
#include "zoo/registry.h"

namespace dreamer::experiments {

using ordered_json = nlohmann::ordered_json;

namespace {

std::string one_line(const ordered_json& j) {
  if (j.is_object() && !j.empty()) {
    std::string s = "{";
    for (auto it = j.begin(); it != j.end(); ++it)
      s += (it == j.begin() ? "" : ", ") + ordered_json(it.key()).dump() + ": " +
           one_line(it.value());
    return s + "}";
  }
  if (j.is_array() && !j.empty()) {
    std::string s = "[";
    for (size_t i = 0; i < j.size(); ++i) s += (i ? ", " : "") + one_line(j[i]);
    return s + "]";
  }
  return j.dump();
}

// Index one past the value that starts at text[start] ('{' or '['), skipping strings.
size_t end_of_value(const std::string& text, size_t start) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = start; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      if (--depth == 0) return i + 1;
    }
  }
  return std::string::npos;
}

template <typename Config>
ordered_json properties_of() {
  return Config::fields().properties(Config{});
}

}  // namespace

ordered_json params_schema(const std::string& family) {
  if (family == "dreamer") return properties_of<models::DreamerConfig>();
  if (family == "dense_transformer") return properties_of<baselines::DenseTransformerConfig>();
  if (family == "moe_transformer") return properties_of<baselines::MoETransformerConfig>();
  if (family == "moeut") return properties_of<baselines::MoEUTConfig>();
  if (family == "huginn") return properties_of<baselines::HuginnConfig>();
  if (family == "universal_transformer")
    return properties_of<baselines::UniversalTransformerConfig>();
  throw InputError("family", "no config declaration for model family \"" + family + "\"");
}

std::string format_json(const ordered_json& j, int indent, int column, int width) {
  const std::string flat = one_line(j);
  const bool container = (j.is_object() || j.is_array()) && !j.empty();
  // +1: the comma that may follow.
  if (!container || column + static_cast<int>(flat.size()) + 1 <= width) return flat;
  const std::string pad(static_cast<size_t>(indent + 2), ' ');
  std::string s = j.is_object() ? "{\n" : "[\n";
  size_t i = 0;
  for (auto it = j.begin(); it != j.end(); ++it, ++i) {
    std::string head = pad;
    if (j.is_object()) head += ordered_json(it.key()).dump() + ": ";
    s += head + format_json(it.value(), indent + 2, static_cast<int>(head.size()), width) +
         (i + 1 < j.size() ? ",\n" : "\n");
  }
  return s + std::string(static_cast<size_t>(indent), ' ') + (j.is_object() ? "}" : "]");
}

ordered_json model_schema_defs() {
  ordered_json names = ordered_json::array(), branches = ordered_json::array();
  ordered_json defs = ordered_json::object();
  for (const auto& f : zoo::families()) {
    names.push_back(f.name);
    const std::string def = "model_" + f.name;
    branches.push_back({{"if", {{"properties", {{"family", {{"const", f.name}}}}}}},
                        {"then", {{"$ref", "#/$defs/" + def}}}});
    ordered_json presets = ordered_json::array();
    for (const auto& [preset, overrides] : f.presets) presets.push_back(preset);
    ordered_json properties = {{"family", {{"const", f.name}}}, {"preset", {{"enum", presets}}}};
    properties.update(params_schema(f.name));
    defs[def] = {{"type", "object"},
                 {"additionalProperties", false},
                 {"description", f.name + ": " + f.description +
                                     ". Defaults are the family's; a preset overrides some."},
                 {"properties", properties}};
  }
  ordered_json out;
  out["model"] = {
      {"type", "object"},
      {"required", ordered_json::array({"family"})},
      {"description",
       "A model config: family, optional preset, and overrides; validated by the family "
       "(dreamer models --config FILE shows the resolved config). Generated from the config "
       "declarations by `dreamer schema --write experiments/schema.json`."},
      {"properties", {{"family", {{"enum", names}}}, {"preset", {{"type", "string"}}}}},
      {"allOf", branches}};
  out.update(defs);
  return out;
}

std::string with_generated_model_schema(const std::string& text, const std::string& file) {
  // The entries are members of "$defs", indented by four spaces, "model" first.
  const size_t defs = text.find("\"$defs\"");
  const std::string key = "\n    \"model\": ";
  const size_t at = defs == std::string::npos ? defs : text.find(key, defs);
  if (at == std::string::npos)
    throw InputError(file, "expected a \"$defs\" member \"model\" indented by four spaces");
  const size_t begin = at + 1;  // start of the line
  size_t end = end_of_value(text, at + key.size());
  // Also the generated "model_<family>" entries that follow it.
  while (end != std::string::npos) {
    const size_t next = text.find_first_not_of(" \n", end + 1);
    if (end >= text.size() || text[end] != ',' || next == std::string::npos ||
        text.compare(next, 7, "\"model_") != 0)
      break;
    const size_t value = text.find(": ", next);
    end = end_of_value(text, value + 2);
  }
  if (end == std::string::npos) throw InputError(file, "unbalanced \"$defs\" \"model\" entry");
  std::string generated;
  const ordered_json entries = model_schema_defs();
  for (auto it = entries.begin(); it != entries.end(); ++it) {
    const std::string head = "    " + ordered_json(it.key()).dump() + ": ";
    if (!generated.empty()) generated += ",\n";
    generated += head + format_json(it.value(), 4, static_cast<int>(head.size()));
  }
  return text.substr(0, begin) + generated + text.substr(end);
}

}  // namespace dreamer::experiments
