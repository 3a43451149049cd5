#pragma once
// A synthetic task as a document source: document i is example i of the task's split, written
// as prompt + answer, so the task streams as packed training sequences like any corpus.
#include "data/source.h"
#include "data/synthetic_task.h"

namespace dreamer::data {

class SyntheticSource : public DocumentSource {
 public:
  explicit SyntheticSource(SyntheticTask task) : task_(std::move(task)) {}
  std::string document(uint64_t seed, uint64_t index) const override {
    const Example ex = task_.example(index, seed);
    return ex.prompt + ex.answer;
  }
  nlohmann::json to_json() const override {
    return {{"type", "synthetic"}, {"task", task_.spec().to_json()}};
  }
  const SyntheticTask& task() const { return task_; }

 private:
  SyntheticTask task_;
};

}  // namespace dreamer::data
