#pragma once
// Depth attention: attention along the recurrence axis. Each depth level j of a token has
// a key/value (level 0 = the embedding, level j >= 1 = the state depth j attended from);
// the state at depth r queries levels 0..r, never deeper (depth causality).
#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

#include "models/model.h"

namespace dreamer::models {

enum class DepthScope { kSameToken, kAllTokensCausal };
// forward: RoPE on queries and keys by depth index (relative: only r - j matters).
// forward_reverse: half the pairs as forward; the other half turn the QUERY alone by the
// reversed index R - r (keys unturned in those pairs). Turning both sides by R - j would
// cancel R out of every score (RoPE is relative), so the reverse half must be one-sided to
// tell depth r how far it is from the last depth.
enum class DepthRope { kNone, kForward, kForwardReverse };

inline const std::vector<std::pair<std::string, DepthScope>>& depth_scope_names() {
  static const std::vector<std::pair<std::string, DepthScope>> kNames = {
      {"same_token", DepthScope::kSameToken}, {"all_tokens_causal", DepthScope::kAllTokensCausal}};
  return kNames;
}
inline const std::vector<std::pair<std::string, DepthRope>>& depth_rope_names() {
  static const std::vector<std::pair<std::string, DepthRope>> kNames = {
      {"none", DepthRope::kNone},
      {"forward", DepthRope::kForward},
      {"forward_reverse", DepthRope::kForwardReverse}};
  return kNames;
}

struct DepthAttentionOptions {
  int64_t d_model = 0;
  int64_t n_heads = 0;
  int64_t head_dim = 0;
  DepthScope scope = DepthScope::kSameToken;
  DepthRope rope = DepthRope::kForwardReverse;
  double rope_base = 10000.0;
  bool zero_init_output = true;
};

// The keys/values of every level written so far for the tokens of this forward call
// ([B, H, T, Dh] each), plus, for the all-tokens scope, the decoding cache of earlier tokens.
// Same-token scope: each entry is also copied once into level buffers [B, H, T, total+1, Dh]
// that reads take a narrow view of, so a forward of R depths holds O(R) keys, not the
// O(R^2) that stacking levels 0..r at every depth r would.
struct DepthMemory {
  std::vector<int64_t> levels;  // depth index of each entry
  std::vector<torch::Tensor> keys, values;
  torch::Tensor key_buffer, value_buffer;  // entry i at index i of dim 3 (no autograd history)
};

struct DepthAttentionImpl : torch::nn::Module, RoleDeclarer {
  explicit DepthAttentionImpl(const DepthAttentionOptions& options);

  // Projects one level's state ([B, T, d]; x_v feeds the values) into memory, with depth RoPE
  // at `level` of `total`. With the all-tokens scope and a cache, the entry is appended to
  // the level's cache (earlier tokens) and memory holds the whole cache.
  void write(DepthMemory& memory, const torch::Tensor& x_k, const torch::Tensor& x_v, int64_t level,
             int64_t total, KVCache* cache);

  // Queries from x_q [B, T, d] at depth `level` over the memory entries with level <= `level`;
  // returns [B, T, d]. For the all-tokens scope, query t sees tokens <= t of every level.
  torch::Tensor read(const DepthMemory& memory, const torch::Tensor& x_q, int64_t level,
                     int64_t total);
  // The same function by stacking the entries at every read (the reference the level-buffer
  // path is tested against, and the path when the buffers cannot serve a read).
  torch::Tensor read_reference(const DepthMemory& memory, const torch::Tensor& x_q, int64_t level,
                               int64_t total);

  DepthAttentionOptions options;
  bool use_level_buffers = true;  // false: write no buffers and always stack (tests, benchmarks)
  torch::nn::Linear q{nullptr}, k{nullptr}, v{nullptr}, o{nullptr};

 private:
  torch::Tensor rotate(const torch::Tensor& x, int64_t level, int64_t total, bool is_query);
  torch::Tensor heads(const torch::Tensor& x);  // [B, T, H*Dh] -> [B, H, T, Dh]
};
TORCH_MODULE(DepthAttention);

}  // namespace dreamer::models
