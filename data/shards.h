#pragma once
// Pre-tokenised training shards (the .bin format of nanoGPT and llm.c, with a self-describing
// header) and the stream that trains from them.
//
// A shard file: a 32-byte little-endian header, then `tokens` ids of `dtype` bytes each:
//   bytes 0-7   magic "DRMSHARD"
//   bytes 8-11  uint32 version (1)
//   bytes 12-15 uint32 bytes per token (2: uint16 ids, 4: uint32 ids)
//   bytes 16-23 uint64 token count
//   bytes 24-31 reserved, zero
// A directory of shards has a manifest.json (written by `dreamer tokenize`): the tokenizer's
// spec and hash, every source file's SHA-256, per split the documents, tokens and shard files.
// Training names the manifest: {"type": "shards", "path": "DIR/manifest.json"}.
#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "data/tokenizer.h"

namespace dreamer::data {

constexpr int kShardHeaderBytes = 32;

// Appends tokens to one shard file; the header's count is written by close().
class ShardWriter {
 public:
  ShardWriter(std::string path, int dtype_bytes);
  ~ShardWriter();
  void append(const std::vector<int64_t>& tokens);
  void close();
  int64_t tokens() const { return tokens_; }

 private:
  std::string path_;
  int dtype_bytes_;
  int64_t tokens_ = 0;
  std::FILE* file_ = nullptr;
};

// A shard mapped read-only (mmap): the header is checked, and the file's size must equal the
// header plus its tokens, so a truncated or padded shard is an error naming the file.
class MappedShard {
 public:
  explicit MappedShard(const std::string& path);
  ~MappedShard();
  MappedShard(const MappedShard&) = delete;
  MappedShard& operator=(const MappedShard&) = delete;
  int64_t size() const { return tokens_; }
  int64_t token(int64_t i) const;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  void* map_ = nullptr;
  size_t map_bytes_ = 0;
  int dtype_bytes_ = 2;
  int64_t tokens_ = 0;
};

// Bytes per token a vocabulary needs (2 while every id fits in uint16).
int shard_dtype_bytes(int64_t vocab_size);

// Held-out by document hash (FNV-1a 64 of the text): the same document lands in the same split
// whatever else the corpus holds and in whatever order.
bool is_heldout(const std::string& document, double heldout_fraction);

// The endless token stream of a manifest's training split: its shards concatenated, repeated
// epoch after epoch. Batches are pure functions of the token offset (row r of a batch at offset
// o holds tokens [o + r*T, o + r*T + T]), so seeking and resuming are O(1) and exact. A
// background thread builds the next batch (in pinned memory where CUDA is available) while the
// current one trains.
class ShardStream {
 public:
  // Opens `manifest` (JSON path `where` for errors): every shard must exist, be intact and hold
  // the token count the manifest records; the manifest's tokenizer must be `tokenizer`.
  ShardStream(const std::string& manifest, const Tokenizer& tokenizer, const std::string& where);
  ~ShardStream();

  int64_t total_tokens() const { return total_; }
  int64_t token(int64_t offset) const;  // offset taken modulo the split's size
  // [batch, seq_len + 1] int64 rows starting at `offset`, seq_len apart.
  at::Tensor batch(int64_t offset, int64_t batch_size, int64_t seq_len);

 private:
  at::Tensor build(int64_t offset, int64_t batch_size, int64_t seq_len) const;
  void prefetch_loop();

  std::vector<std::unique_ptr<MappedShard>> shards_;
  std::vector<int64_t> starts_;  // global offset of each shard's first token
  int64_t total_ = 0;
  bool pin_ = false;

  std::mutex mutex_;
  std::condition_variable wake_, ready_;
  bool stop_ = false, want_ = false, have_ = false;
  int64_t want_offset_ = 0, want_batch_ = 0, want_len_ = 0;
  at::Tensor prefetched_;
  std::thread thread_;
};

// SHA-256 of the tokenizer's spec without its model path (the manifest's "tokenizer_hash").
std::string shard_tokenizer_hash(const Tokenizer& tokenizer);

// Training data specs of type "shards": {"type": "shards", "path": "DIR/manifest.json"}.
bool is_shard_spec(const nlohmann::json& spec);
// Strict parse (unknown keys are errors under `where`), then opens and checks every shard.
std::shared_ptr<ShardStream> open_shards(const nlohmann::json& spec, const Tokenizer& tokenizer,
                                         const std::string& where);

}  // namespace dreamer::data
