#include "models/cost.h"

namespace dreamer::models {

double sequence_attention_flops(double d, double h, double hkv, double dh, double t) {
  return 2 * d * h * dh + 4 * d * hkv * dh + 2 * h * dh * d  // q, k, v, o
         + 4 * t * h * dh;                                   // scores + mix over all T
}

double sequence_attention_activations(double d, double h, double hkv, double dh) {
  return 2 * d + h * dh + 2 * hkv * dh + h * dh;  // h, x, q, k, v, out
}

void set_memory(Cost& cost, const Workload& w, double saved_per_token, double cache_elements,
                int64_t d_model, int64_t vocab_size) {
  const double params = static_cast<double>(cost.params.total);
  const double tokens = static_cast<double>(w.batch) * static_cast<double>(w.seq_len);
  cost.memory_activation_bytes =
      tokens * (saved_per_token + d_model) * w.activation_bytes +
      tokens * static_cast<double>(vocab_size) * 4.0 * 2;  // float32 logits and their gradient
  cost.memory_train_bytes =
      params * (2 * w.param_bytes + w.optimizer_state_bytes) + cost.memory_activation_bytes;
  cost.memory_inference_bytes = (params + cache_elements) * w.activation_bytes;
}

}  // namespace dreamer::models
