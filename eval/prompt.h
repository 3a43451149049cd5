#pragma once
// How one document becomes model input and references under a task spec: the few-shot
// context (lm-eval: description + shots joined by fewshot_delimiter + the question), the
// choices and gold index of a multiple-choice item, and the reference answer of a generative one.
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "eval/task_spec.h"

namespace dreamer::eval {

class PromptBuilder {
 public:
  // Renders the shots once; every document reuses that prefix.
  PromptBuilder(const TaskSpec& task, const std::vector<nlohmann::json>& shots);

  std::string context(const nlohmann::json& doc) const;  // with the constructor's shots
  // With this document's own shots (samplers that draw per document).
  std::string context(const nlohmann::json& doc, const std::vector<nlohmann::json>& shots) const;
  std::vector<std::string> choices(const nlohmann::json& doc) const;
  int64_t gold(const nlohmann::json& doc) const;
  // The answer text a shot shows after the question (the gold choice for multiple choice).
  std::string target_text(const nlohmann::json& doc) const;
  // The reference a prediction is compared with: target_text through target_filter.
  std::string reference(const nlohmann::json& doc) const;
  const std::string& shot_prefix() const { return prefix_; }

 private:
  std::string prefix_of(const std::vector<nlohmann::json>& shots) const;
  std::string question(
      const nlohmann::json& doc) const;  // the document's turn, gen_prefix included
  const TaskSpec& task_;
  std::string prefix_;
};

}  // namespace dreamer::eval
