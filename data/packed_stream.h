#pragma once
// Packing documents into fixed-length training sequences.
//
// The stream is one endless token sequence: doc_0 EOS doc_1 EOS doc_2 EOS ..., documents drawn
// from a Mixture under a seed, each tokenized and followed by the tokenizer's eos_id.
// Sequences are windows of T+1 tokens (inputs and the targets shifted by one) that start T
// tokens apart, so every token is a target exactly once; windows cross document boundaries
// (the EOS tells the model a new document starts). A row starting at token offset o holds
// tokens [o, o+T]; a batch is B consecutive rows, and the stream advances by B*T tokens.
//
// Deterministic and seekable: same (mixture, tokenizer, seed) -> same batches; seek(o) or
// restore(position()) continue exactly where an uninterrupted stream would be.
#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <vector>

#include "data/mixture.h"
#include "data/tokenizer.h"

namespace dreamer::data {

class ShardStream;  // data/shards.h

struct Batch {
  at::Tensor tokens;           // [B, T+1] int64
  int64_t token_offset = 0;    // stream offset of tokens[0][0]; row r starts at offset + r*T
  at::Tensor inputs() const;   // [B, T]   tokens[:, :-1]
  at::Tensor targets() const;  // [B, T]   tokens[:, 1:]
};

// Where a stream is, in O(1) data: enough to regenerate the current document and continue.
struct StreamPosition {
  int64_t token_offset = 0;          // tokens consumed since the start of the stream
  uint64_t document = 0;             // mixture index of the current document
  std::vector<uint64_t> per_source;  // documents taken from each source before it
  int64_t token_in_document = 0;     // tokens of it already consumed (EOS included in its length)
  nlohmann::json to_json() const;
  static StreamPosition from_json(const nlohmann::json& j, const std::string& path = "$");
};

class PackedStream {
 public:
  PackedStream(std::shared_ptr<const Tokenizer> tokenizer, Mixture mixture, uint64_t seed,
               int64_t seq_len);
  // Pre-tokenised shards (data/shards.h): the same windows over the shards' token sequence, read
  // from memory-mapped files through a prefetch thread; positions hold only the token offset.
  PackedStream(std::shared_ptr<ShardStream> shards, int64_t seq_len);

  Batch next_batch(int64_t batch_size);
  // The next `n` tokens of the flat stream (advances by n).
  std::vector<int64_t> take(int64_t n);

  int64_t token_offset() const { return offset_; }
  int64_t seq_len() const { return seq_len_; }
  // Jumps to token offset `o` by replaying from the start: costs tokenizing every document
  // before `o` (cheap for bytes and synthetic data); prefer restore() for checkpoints.
  void seek(int64_t token_offset);
  StreamPosition position() const;
  void restore(const StreamPosition& position);

 private:
  void start();                    // back to offset 0
  void load_document(uint64_t k);  // makes document k current; per_source_ must be its "before"
  void advance_document();
  int64_t peek();  // the next token without consuming it

  std::shared_ptr<const Tokenizer> tokenizer_;
  std::shared_ptr<ShardStream> shards_;  // set: tokens come from shards, not documents
  Mixture mixture_;
  uint64_t seed_;
  int64_t seq_len_;

  int64_t offset_ = 0;
  uint64_t document_ = 0;
  std::vector<uint64_t> per_source_;  // before the current document
  std::vector<int64_t> current_;      // current document's tokens + EOS
  size_t source_of_current_ = 0;
  int64_t index_ = 0;  // next token within current_
};

}  // namespace dreamer::data
