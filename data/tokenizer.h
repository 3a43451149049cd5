#pragma once
// Tokenizers turn text into model token ids and back. The tokenizer is part of every run's
// recorded config (to_json), so a result can always be reproduced with the same one.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace dreamer::data {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  virtual std::vector<int64_t> encode(const std::string& text) const = 0;
  virtual std::string decode(const std::vector<int64_t>& ids) const = 0;
  virtual int64_t vocab_size() const = 0;
  virtual int64_t eos_id() const = 0;  // document separator
  virtual nlohmann::json to_json() const = 0;
};

// Byte-level tokenizer: ids 0..255 are the bytes, 256 is end-of-document. Nothing to train.
class ByteTokenizer : public Tokenizer {
 public:
  std::vector<int64_t> encode(const std::string& text) const override;
  std::string decode(const std::vector<int64_t>& ids) const override;
  int64_t vocab_size() const override { return 257; }
  int64_t eos_id() const override { return 256; }
  nlohmann::json to_json() const override { return {{"type", "byte"}}; }
};

// Builds a tokenizer from its JSON description (what to_json() writes). Strict:
//   {"type": "byte"}
//   {"type": "sentencepiece", "model": PATH}  (+ optional "vocab_size", "model_hash", which
//                                              must match the loaded model when present)
// Errors are InputError naming the JSON path under `path`.
std::shared_ptr<Tokenizer> make_tokenizer(const nlohmann::json& spec,
                                          const std::string& path = "$");

}  // namespace dreamer::data
