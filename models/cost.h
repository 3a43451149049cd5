#pragma once
// The cost of a model under a workload: parameters, FLOPs per token and memory. Each family's
// formula lives beside its module (e.g. models/dreamer_cost.cpp) so code and formula change
// together; tests check the formulas against the instantiated module (parameters) and against
// the FLOPs a forward pass actually executed (matching/flop_counter.h).
//
// Conventions (docs/MATCHING.md):
// - FLOPs count matrix multiplies only, 2 per multiply-add, per token of a full sequence of
//   seq_len tokens; attention scores and mixing count every query-key pair a dense kernel
//   computes (4 * T * head_dim per head and token, masked pairs included, as nanochat's
//   12·L·H·Q·T). Only the selected experts count.
// - Training FLOPs = forward over all recurrences + 2 x forward over the steps with gradients.
// - Memory in bytes; see each field.
#include <cstdint>
#include <string>

#include "models/model.h"

namespace dreamer::models {

struct Workload {
  int64_t seq_len = 1024;
  int64_t batch = 8;
  double recurrences = 0;           // 0 = the family's configured mean
  int64_t param_bytes = 4;          // fp32 master weights
  int64_t activation_bytes = 2;     // bf16 activations and caches
  int64_t optimizer_state_bytes = 8;  // per parameter (AdamW: two fp32 moments)
  bool activation_checkpointing = false;  // keep only each layer application's input
};

struct Cost {
  ParameterCounts params;
  int64_t active_params = 0;  // parameters touched per token (selected experts only)
  double flops_forward_per_token = 0;
  double flops_train_per_token = 0;
  double memory_train_bytes = 0;      // weights + grads + optimizer + saved activations
  double memory_activation_bytes = 0; // the saved-activations part of the above
  double memory_inference_bytes = 0;  // weights (activation dtype) + KV and depth caches at seq_len
};

// The shared SequenceAttention block (models/blocks/sequence_attention.h), per token of a
// sequence of seq_len: forward matmul FLOPs (q, k, v, o, then scores and mixing over every
// query-key pair), and activation elements kept for backward (block input, normed input,
// q, k, v, attention output).
double sequence_attention_flops(double d_model, double heads, double kv_heads, double head_dim,
                                double seq_len);
double sequence_attention_activations(double d_model, double heads, double kv_heads,
                                      double head_dim);

// Fills the three memory fields (cost.params must be set) from what each family's formula
// knows: `saved_per_token`, the activation elements kept for backward per token (the final
// state and the float32 logits with their gradient are added here), and `cache_elements`, the
// KV and depth-cache elements held while decoding a batch at seq_len.
void set_memory(Cost& cost, const Workload& workload, double saved_per_token, double cache_elements,
                int64_t d_model, int64_t vocab_size);

}  // namespace dreamer::models
