#pragma once
// SentencePiece (BPE or unigram) tokenizers: training, loading, encode/decode.
//
// libsentencepiece is never linked into dreamer_core: it is reached through a small shim shared
// library that is dlopen()ed on first use (see data/sentencepiece_shim/sentencepiece_shim.h for
// the protobuf clash this avoids). Set DREAMER_SENTENCEPIECE_SHIM to use a shim at another path.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/tokenizer.h"

namespace dreamer::data {

struct SentencePieceTrainOptions {
  std::string model_type = "bpe";  // "bpe" or "unigram"
  int64_t vocab_size = 1000;
  // Bytes never seen in training (and "\n", which SentencePiece never sees because it trains
  // on lines) still encode, as <0xNN> pieces, so decode(encode(text)) == text for any text.
  bool byte_fallback = true;
  double character_coverage = 1.0;
  uint32_t seed = 0;
  int num_threads = 1;
};

// Whether this build has a SentencePiece shim to load (or DREAMER_SENTENCEPIECE_SHIM names one).
// A shim that exists but fails to load is an error at first use, not a `false` here.
bool sentencepiece_built();

// Trains on text files (one training sentence per line) and writes <model_prefix>.model.
// Returns the path of the .model file. Errors (bad options, too small a corpus) throw
// std::runtime_error with SentencePiece's message.
std::string train_sentencepiece(const std::vector<std::string>& input_files,
                                const std::string& model_prefix,
                                const SentencePieceTrainOptions& options = {});

class SentencePieceTokenizer : public Tokenizer {
 public:
  // Loads a .model file written by train_sentencepiece (or any SentencePiece model with an
  // end-of-sentence piece, which becomes the document separator).
  explicit SentencePieceTokenizer(std::string model_path);

  std::vector<int64_t> encode(const std::string& text) const override;
  std::string decode(const std::vector<int64_t>& ids) const override;
  int64_t vocab_size() const override { return vocab_size_; }
  int64_t eos_id() const override { return eos_id_; }
  // {"type": "sentencepiece", "model": PATH, "vocab_size": N, "model_hash": FNV-1a of the file}:
  // make_tokenizer() re-checks the size and hash, so a recorded config cannot silently pick up
  // a retrained model at the same path.
  nlohmann::json to_json() const override;

  static std::string file_hash(const std::string& model_path);

 private:
  std::string model_path_, model_hash_;
  std::shared_ptr<void> handle_;  // the shim's processor, released through dspm_free
  int64_t vocab_size_ = 0, eos_id_ = -1;
};

}  // namespace dreamer::data
