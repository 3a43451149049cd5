#pragma once
// The one interface every model family implements, so the trainer, eval runner and
// benchmarks never branch on the family.
#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "models/config.h"
#include "models/roles.h"

namespace dreamer::models {

// Routing decisions of one expert site at one depth (or layer) for one forward call.
struct RoutingRecord {
  std::string site;   // "ea", "ffn", "attn_v", "attn_o", ...
  int64_t depth = 0;  // 1-based recurrence index, or 1-based layer index
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

// Keys and values of one attention application while decoding: buffers allocated once for
// `capacity` positions and written by index, so a decode step copies only its new entries (no
// concatenation of the whole cache per token).
struct KVCache {
  torch::Tensor k, v;  // [B, H, allocated, Dh] buffers; entries [0, length()) are valid
  int64_t used = 0;
  int64_t capacity = 0;  // positions to allocate at the first write (0: that write's length)
  int64_t length() const { return used; }
  // Writes the new entries after the valid ones and returns views of all valid entries. A write
  // past the allocation reallocates at twice the size (amortised; decoding sizes the capacity
  // up front so that it does not happen).
  std::pair<torch::Tensor, torch::Tensor> append(const torch::Tensor& k_new,
                                                 const torch::Tensor& v_new);
  // Static decoding (models/static_decode.h): the position lives on the device (`slot`, [1]
  // int64, shared by every cache of a state), so one captured CUDA graph serves every step. A
  // write of one token goes to index `slot` of the full-capacity buffers, and append() returns
  // the whole buffers; `valid` ([capacity] bool, shared) marks the written entries, which
  // attention must mask by (static_key_mask()). `used` is not kept up to date in this mode.
  torch::Tensor slot, valid;
  bool is_static() const { return slot.defined(); }
};

// Decoding state: created empty, passed to successive forward calls with the new tokens.
struct InferenceState {
  int64_t position = 0;              // tokens already consumed
  int64_t recurrences = 0;           // recurrent families: fixed at the first call
  int64_t capacity = 0;              // positions each cache is allocated for (prompt + new)
  std::vector<KVCache> sequence;     // one per attention application (layer x depth)
  std::vector<KVCache> depth;        // depth-attention caches, one per depth level
  std::vector<torch::Tensor> extra;  // family-specific state
  // Creates the caches of a fresh state, each sized for `capacity` positions.
  void allocate(size_t n_sequence, size_t n_depth = 0);
  // Static decoding (see KVCache): the position on the device and the valid-entry mask, shared
  // with every sequence cache; `key_index` is arange(capacity) on the device. Undefined: the
  // ordinary (host-position) mode.
  torch::Tensor slot, valid, key_index;
  bool is_static() const { return slot.defined(); }
  // Switches a prefilled state to static decoding: every sequence cache must hold a buffer of
  // exactly `capacity` positions (the prefill allocates it); the unwritten entries are zeroed,
  // so that masked keys and values are finite. Depth caches are not supported (throws).
  void enable_static_decoding();
};

struct ForwardOptions {
  // Number of recurrences for recurrent families; 0 = the model's default (the configured
  // mean at evaluation, a sample from the configured schedule during training).
  int64_t recurrences = 0;
  bool record_trace = false;
  bool record_states = false;  // keep the hidden state after every depth/layer (analysis, tests)
  // Skip the LM head: ModelOutput.hidden holds its input and logits stay undefined, so the
  // trainer's chunked cross-entropy (train/loss.h) never holds [B, T, V] logits.
  bool hidden_only = false;
  // Run the LM head on the last position only: logits are [B, 1, V]. Generation needs nothing
  // else, and a 5-shot prompt's [B, T, V] float32 logits would be gigabytes (B 32, T 4000).
  bool last_logits_only = false;
};

// The LM head's parameters: logits = hidden @ weight^T + bias, then float32.
struct HeadWeights {
  torch::Tensor weight;  // [V, d]
  torch::Tensor bias;    // [V] or undefined
};

struct ModelOutput {
  torch::Tensor logits;    // [B, T, V] float32 ([B, 1, V] with last_logits_only; undefined
                           // with hidden_only)
  torch::Tensor hidden;    // [B, T, d] the LM head's input, only with ForwardOptions.hidden_only
  torch::Tensor aux_loss;  // scalar, already weighted; zero when the family has none
  RoutingTrace trace;
  int64_t recurrences = 0;            // recurrences actually run (1 for non-recurrent families)
  std::vector<torch::Tensor> states;  // [B, T, d] after each depth/layer, if requested
};

struct ParameterCounts {
  int64_t total = 0;
  int64_t embedding = 0;  // token and position tables and an untied LM head (counts_as_embedding)
  int64_t non_embedding = 0;
};

// The family's constructor declares the roles of the parameters it registers itself (the
// embedding, the head); every block declares its own (models/roles.h).
class LanguageModel : public torch::nn::Module, public RoleDeclarer {
 public:
  virtual ModelOutput forward(const torch::Tensor& tokens, InferenceState* state = nullptr,
                              const ForwardOptions& options = {}) = 0;
  // Called once after each optimizer step (balancing-bias updates and the like).
  virtual void after_optimizer_step() {}
  virtual bool is_recurrent() const { return false; }
  // Whether a one-token forward with a static InferenceState (KVCache::is_static) reads
  // positions only from the device, so that the step can be captured as a CUDA graph
  // (models/static_decode.h). Families opt in once a test holds static steps equal to ordinary
  // ones (tests/models/static_decode_test.cpp).
  virtual bool supports_static_decode() const { return false; }
  // Whether that step can also be captured as a CUDA graph on `device` under the current
  // autocast setting: no host read inside it. By default the same as supports_static_decode().
  virtual bool decode_step_capturable(const torch::Device& device) const {
    return supports_static_decode();
  }
  // The head that turns ModelOutput.hidden into the logits. Every family overrides it; the
  // default (models without a separable head, such as the scoring tests' fakes) throws.
  virtual HeadWeights head() const;
  // The role of every parameter (models/roles.h): what init, weight decay and
  // count_parameters go by.
  virtual ParameterRoles parameter_roles() const { return collect_parameter_roles(*this); }
  const ModelConfig& config() const { return config_; }

 protected:
  explicit LanguageModel(ModelConfig config) : config_(std::move(config)) {}

 private:
  ModelConfig config_;
};

using LanguageModelPtr = std::shared_ptr<LanguageModel>;

ParameterCounts count_parameters(const LanguageModel& model);

// Fills out.logits from the head input y, or out.hidden with hidden_only (and the zero aux loss
// the families without one report, in float32 on y's device).
void finish_output(ModelOutput& out, const torch::Tensor& y, const HeadWeights& head,
                   const ForwardOptions& options);

}  // namespace dreamer::models
