#include "eval/predictions.h"

#include <fstream>
#include <map>

#include "util/errors.h"

namespace dreamer::eval {

namespace {

// The prompt of an lm-eval record: arguments.gen_args_0.arg_0 (samples files) or
// arguments[0][0] (the in-memory form).
std::optional<std::string> lmeval_prompt(const nlohmann::json& line) {
  if (!line.contains("arguments")) return std::nullopt;
  const auto& a = line["arguments"];
  if (a.is_object() && a.contains("gen_args_0") && a["gen_args_0"].contains("arg_0") &&
      a["gen_args_0"]["arg_0"].is_string())
    return a["gen_args_0"]["arg_0"].get<std::string>();
  if (a.is_array() && !a.empty() && a[0].is_array() && !a[0].empty() && a[0][0].is_string())
    return a[0][0].get<std::string>();
  return std::nullopt;
}

double number_of(const nlohmann::json& v, const std::string& where) {
  if (v.is_number()) return v.get<double>();
  if (v.is_string()) {
    const auto s = v.get<std::string>();
    try {
      size_t used = 0;
      const double d = std::stod(s, &used);
      if (used == s.size()) return d;
    } catch (const std::exception&) {
    }
  }
  throw InputError(where, "expected a log-likelihood (a number or its text), got " + v.dump());
}

bool bool_of(const nlohmann::json& v) {
  return v.is_boolean() ? v.get<bool>() : v.is_string() && v.get<std::string>() == "True";
}

}  // namespace

Predictions read_predictions(const std::string& file, const TaskSpec& task, const TaskData& data) {
  std::ifstream in(file);
  if (!in) throw InputError(file, "cannot open predictions file");
  std::map<int64_t, size_t> position;  // doc_id -> index among data.docs
  for (size_t i = 0; i < data.docs.size(); ++i) position[data.doc_id(i)] = i;
  Predictions p;
  p.generations.resize(data.docs.size());
  p.choices.resize(data.docs.size());
  const bool mc = task.output_type == OutputType::kMultipleChoice;
  std::string text;
  for (int64_t number = 1; std::getline(in, text); ++number) {
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = file + ":" + std::to_string(number);
    nlohmann::json line;
    try {
      line = nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
      throw InputError(where, std::string("invalid JSON: ") + e.what());
    }
    ++p.lines;
    if (!line.is_object() || !line.contains("doc_id") || !line["doc_id"].is_number_integer())
      throw InputError(where, "expected an object with an integer \"doc_id\"");
    const int64_t id = line["doc_id"].get<int64_t>();
    const auto found = position.find(id);
    if (found == position.end())
      throw InputError(where, "doc_id " + std::to_string(id) + " is not a document of task " +
                                  task.name + " (" + std::to_string(data.docs.size()) +
                                  " documents)");
    const size_t i = found->second;
    if (mc ? p.choices[i].has_value() : p.generations[i].has_value()) continue;  // next filter
    const bool lmeval = line.contains("resps");
    if (!lmeval && !line.contains("output"))
      throw InputError(where, "expected \"resps\" (an lm-eval samples line) or \"output\"");
    std::optional<std::string> prompt = lmeval ? lmeval_prompt(line) : std::nullopt;
    if (!lmeval && line.contains("prompt")) {
      if (!line["prompt"].is_string()) throw InputError(where + ":prompt", "expected a string");
      prompt = line["prompt"].get<std::string>();
    }
    if (!mc) {
      std::string output;
      std::vector<std::string> outputs;
      if (lmeval) {
        const auto& r = line["resps"];
        if (!r.is_array() || r.empty() || !r[0].is_array() || r[0].empty())
          throw InputError(where + ":resps", "expected [[\"generated text\", ...]]");
        for (const auto& response : r[0]) {
          if (!response.is_string())
            throw InputError(where + ":resps", "expected [[\"generated text\", ...]]");
          outputs.push_back(response.get<std::string>());
        }
        output = outputs.front();
      } else {
        if (!line["output"].is_string()) throw InputError(where + ":output", "expected a string");
        output = line["output"].get<std::string>();
      }
      p.generations[i] = ExternalGeneration{output, std::move(outputs), prompt};
    } else {
      if (!lmeval)
        throw InputError(where, "a multiple_choice task needs lm-eval \"resps\" (log-likelihoods)");
      const auto& r = line["resps"];
      if (!r.is_array()) throw InputError(where + ":resps", "expected one entry per choice");
      ExternalChoices c;
      c.prompt = prompt;
      for (size_t k = 0; k < r.size(); ++k) {
        const std::string at = where + ":resps[" + std::to_string(k) + "]";
        // [[ll, is_greedy]] per choice (samples files), or [ll, is_greedy].
        const auto& pair = r[k].is_array() && !r[k].empty() && r[k][0].is_array() ? r[k][0] : r[k];
        if (!pair.is_array() || pair.size() != 2)
          throw InputError(at, "expected [[log-likelihood, is_greedy]]");
        c.loglikelihoods.push_back(number_of(pair[0], at));
        c.is_greedy.push_back(bool_of(pair[1]));
      }
      p.choices[i] = std::move(c);
    }
    ++p.used;
  }
  return p;
}

}  // namespace dreamer::eval
