#include "experiments/expand.h"

#include <vector>

#include "util/errors.h"
#include "util/fs.h"
#include "util/json_reader.h"

namespace dreamer::experiments {

namespace {

nlohmann::json read_recursive(const std::string& file, std::vector<std::string>& stack) {
  const std::string canonical = fs::weakly_canonical(file);
  for (const auto& open : stack)
    require(open != canonical, file, "includes itself (through " + stack.back() + ")");
  stack.push_back(canonical);
  nlohmann::json own = read_json_file(file);
  require(own.is_object(), file + ":$", "expected a JSON object (an experiment)");
  nlohmann::json merged = nlohmann::json::object();
  if (own.contains("include")) {
    const auto& inc = own["include"];
    std::vector<std::string> names;
    if (inc.is_string())
      names.push_back(inc.get<std::string>());
    else if (inc.is_array())
      for (const auto& n : inc) {
        require(n.is_string(), file + ":$.include", "expected file names (strings)");
        names.push_back(n.get<std::string>());
      }
    else
      throw InputError(file + ":$.include", "expected a file name or an array of them");
    for (const auto& name : names) {
      const std::string path = fs::join(fs::parent_path(file), name);  // absolute names stay
      require(fs::exists(path), file + ":$.include",
              "\"" + name + "\" not found (looked for " + path + ")");
      merged.merge_patch(read_recursive(path, stack));
    }
    own.erase("include");
  }
  merged.merge_patch(own);
  stack.pop_back();
  return merged;
}

std::string value_label(const nlohmann::json& v) {
  return v.is_string() ? v.get<std::string>() : v.dump();
}

}  // namespace

nlohmann::json read_with_includes(const std::string& file) {
  require(fs::exists(file), file, "experiment file not found");
  std::vector<std::string> stack;
  return read_recursive(file, stack);
}

nlohmann::json expand_grids(nlohmann::json experiment, const std::string& file) {
  if (!experiment.contains("arms") || !experiment["arms"].is_array()) return experiment;
  nlohmann::json arms = nlohmann::json::array();
  for (size_t i = 0; i < experiment["arms"].size(); ++i) {
    nlohmann::json arm = experiment["arms"][i];
    const std::string path = file + ":$.arms[" + std::to_string(i) + "]";
    if (!arm.is_object() || !arm.contains("grid")) {
      arms.push_back(arm);
      continue;
    }
    const nlohmann::json grid = arm["grid"];
    arm.erase("grid");
    require(grid.is_object() && !grid.empty(), path + ".grid",
            "expected an object of {\"dotted.path\": [values]}");
    std::string base_name = arm.value("name", "arm" + std::to_string(i));
    std::vector<std::pair<std::string, nlohmann::json>> items;
    for (const auto& [key, values] : grid.items()) {
      require(values.is_array() && !values.empty(), path + ".grid." + key,
              "expected a non-empty array of values");
      require(key != "name" && key.rfind("grid", 0) != 0 && !key.empty() && key.front() != '.' &&
                  key.back() != '.' && key.find("..") == std::string::npos,
              path + ".grid." + key, "expected a dotted path inside the arm, e.g. model.d_model");
      items.emplace_back(key, values);
    }
    // Odometer over the axes, first axis slowest.
    std::vector<size_t> index(items.size(), 0);
    while (true) {
      nlohmann::json point = arm;
      std::string label;
      for (size_t a = 0; a < items.size(); ++a) {
        const auto& [key, values] = items[a];
        std::string pointer = "/" + key;
        for (auto& c : pointer)
          if (c == '.') c = '/';
        const nlohmann::json& value = values[index[a]];
        try {
          point[nlohmann::json::json_pointer(pointer)] = value;
        } catch (const nlohmann::json::exception&) {
          throw InputError(path + ".grid." + key,
                           "cannot set this path inside the arm (a part of it is not an object)");
        }
        const std::string leaf =
            key.substr(key.rfind('.') == std::string::npos ? 0 : key.rfind('.') + 1);
        label += (label.empty() ? "" : ",") + leaf + "=" + value_label(value);
      }
      point["name"] = base_name + "[" + label + "]";
      arms.push_back(point);
      size_t a = items.size();
      while (a > 0 && ++index[a - 1] == items[a - 1].second.size()) index[--a] = 0;
      if (a == 0) break;
    }
  }
  experiment["arms"] = arms;
  return experiment;
}

}  // namespace dreamer::experiments
