#pragma once
// Document sources: where training text comes from (JSONL, plain text, synthetic tasks).
//
// A source is an endless, random-access sequence of documents: document(seed, i) is a pure
// function, so a stream can regenerate any document on its own (seekable, reproducible).
// File sources repeat their documents epoch after epoch, optionally in a fresh seeded order
// each epoch. Mixtures of sources live in data/mixture.h.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace dreamer::data {

class DocumentSource {
 public:
  virtual ~DocumentSource() = default;
  virtual std::string document(uint64_t seed, uint64_t index) const = 0;
  virtual nlohmann::json to_json() const = 0;  // what make_source() rebuilds it from
};

// Builds a source from its strict JSON spec (docs/DATA.md lists every field):
//   {"type": "jsonl", "path": P, "template": "Q: {question}\nA: {answer}", "shuffle": true}
//   {"type": "jsonl", "path": P, "fields": ["question", "answer"], "separator": "\n"}
//   {"type": "text", "path": P, "split": "file" | "paragraph" | "line", "shuffle": true}
//   {"type": "synthetic", "task": {<data/synthetic_task.h spec>}}
// Errors are InputError naming the JSON path, or "file:line" for a malformed data line.
std::shared_ptr<DocumentSource> make_source(const nlohmann::json& spec,
                                            const std::string& path = "$");

// A finite list of documents read from a file, served epoch after epoch.
class FileDocuments : public DocumentSource {
 public:
  FileDocuments(std::vector<std::string> documents, bool shuffle, nlohmann::json spec);
  std::string document(uint64_t seed, uint64_t index) const override;
  nlohmann::json to_json() const override { return spec_; }
  size_t size() const { return documents_.size(); }

 private:
  std::vector<std::string> documents_;
  bool shuffle_;
  nlohmann::json spec_;
  // The current epoch's permutation, rebuilt when (seed, epoch) changes: streams read
  // sequentially, so that is once per epoch. Per object, so sources in a mixture do not evict
  // each other's; the mutex keeps the const reader safe across threads.
  mutable std::mutex mutex_;
  mutable uint64_t order_seed_ = 0, order_epoch_ = 0;
  mutable std::vector<uint64_t> order_;  // empty until first built
};

}  // namespace dreamer::data
