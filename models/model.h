#pragma once
// The one interface every model family implements, so the trainer, eval runner and
// benchmarks never branch on the family.
#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "models/config.h"

namespace dreamer::models {

// Routing decisions of one expert site at one depth (or layer) for one forward call.
struct RoutingRecord {
  std::string site;          // "ea", "ffn", "attn_v", "attn_o", ...
  int64_t depth = 0;         // 1-based recurrence index, or 1-based layer index
  int64_t n_experts = 0;
  torch::Tensor expert_ids;  // [N, k] int64, N = B*T tokens in row-major order
  torch::Tensor gates;       // [N, k] float32
  // The expert pool the ids index: records with the same (site, pool) select from the same
  // parameter set (Dreamer's shared layer: one pool for every depth; an MoE transformer: one
  // pool per layer; MoEUT: one per layer group). Empty: one pool per (site, depth).
  std::string pool;
};

struct RoutingTrace {
  std::vector<RoutingRecord> records;
  bool empty() const { return records.empty(); }
};

// Keys and values of one attention application, grown along the sequence while decoding.
struct KVCache {
  torch::Tensor k, v;  // [B, H, T, Dh]
  int64_t length() const { return k.defined() ? k.size(2) : 0; }
  // Appends the new entries and returns the full cache.
  std::pair<torch::Tensor, torch::Tensor> append(const torch::Tensor& k_new,
                                                 const torch::Tensor& v_new);
};

// Decoding state: created empty, passed to successive forward calls with the new tokens.
struct InferenceState {
  int64_t position = 0;               // tokens already consumed
  int64_t recurrences = 0;            // recurrent families: fixed at the first call
  std::vector<KVCache> sequence;      // one per attention application (layer x depth)
  std::vector<KVCache> depth;         // depth-attention caches, one per depth level
  std::vector<torch::Tensor> extra;   // family-specific state
};

struct ForwardOptions {
  // Number of recurrences for recurrent families; 0 = the model's default (the configured
  // mean at evaluation, a sample from the configured schedule during training).
  int64_t recurrences = 0;
  bool record_trace = false;
  bool record_states = false;  // keep the hidden state after every depth/layer (analysis, tests)
};

struct ModelOutput {
  torch::Tensor logits;    // [B, T, V] float32
  torch::Tensor aux_loss;  // scalar, already weighted; zero when the family has none
  RoutingTrace trace;
  int64_t recurrences = 0;  // recurrences actually run (1 for non-recurrent families)
  std::vector<torch::Tensor> states;  // [B, T, d] after each depth/layer, if requested
};

struct ParameterCounts {
  int64_t total = 0;
  int64_t embedding = 0;  // token and position tables and an untied LM head
  int64_t non_embedding = 0;
};

class LanguageModel : public torch::nn::Module {
 public:
  virtual ModelOutput forward(const torch::Tensor& tokens, InferenceState* state = nullptr,
                              const ForwardOptions& options = {}) = 0;
  // Called once after each optimizer step (balancing-bias updates and the like).
  virtual void after_optimizer_step() {}
  virtual bool is_recurrent() const { return false; }
  // Parameters that scale with the vocabulary or context length (see ParameterCounts).
  virtual bool is_embedding_parameter(const std::string& name) const;
  const ModelConfig& config() const { return config_; }

 protected:
  explicit LanguageModel(ModelConfig config) : config_(std::move(config)) {}

 private:
  ModelConfig config_;
};

using LanguageModelPtr = std::shared_ptr<LanguageModel>;

ParameterCounts count_parameters(const LanguageModel& model);

}  // namespace dreamer::models
