#include "models/blocks/attention_core.h"

#include <cmath>

#include <torch/version.h>

#if TORCH_VERSION_MAJOR >= 2
#include <ATen/ops/scaled_dot_product_attention.h>
#endif
// SDPA's enable_gqa (grouped key/value heads read in place, no repeat) from LibTorch 2.5.
#define DREAMER_SDPA_GQA \
  (TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 5))

namespace dreamer::models {

torch::Tensor causal_mask(int64_t tq, int64_t tk, const torch::Device& device) {
  auto qi = torch::arange(tq, torch::dtype(torch::kLong).device(device)).unsqueeze(1) + (tk - tq);
  auto kj = torch::arange(tk, torch::dtype(torch::kLong).device(device)).unsqueeze(0);
  return kj <= qi;
}

torch::Tensor at_least_float32(const torch::Tensor& scores) {
  return scores.element_size() < 4 ? scores.to(torch::kFloat32) : scores;
}

torch::Tensor repeat_kv(const torch::Tensor& x, int64_t n_heads) {
  const int64_t n_kv = x.size(1);
  if (n_kv == n_heads) return x;
  return x.repeat_interleave(n_heads / n_kv, /*dim=*/1);
}

namespace {
// Softmax attention where `allowed` (broadcast to [.., Tq, Tk], true = may see) masks the keys.
torch::Tensor masked_attention_reference(const torch::Tensor& q, const torch::Tensor& k,
                                         const torch::Tensor& v, const torch::Tensor& allowed) {
  const int64_t h = q.size(1);
  auto kk = repeat_kv(k, h), vv = repeat_kv(v, h);
  auto scores = torch::matmul(q, kk.transpose(-2, -1)) / std::sqrt(static_cast<double>(q.size(-1)));
  scores = scores.masked_fill(allowed.logical_not(), -std::numeric_limits<float>::infinity());
  auto weights = torch::softmax(at_least_float32(scores), -1).to(q.scalar_type());
  return torch::matmul(weights, vv);
}
}  // namespace

torch::Tensor causal_attention_reference(const torch::Tensor& q, const torch::Tensor& k,
                                         const torch::Tensor& v) {
  return masked_attention_reference(q, k, v, causal_mask(q.size(2), k.size(2), q.device()));
}

bool fused_attention_available() {
  return TORCH_VERSION_MAJOR >= 2;
}

torch::Tensor causal_attention(const torch::Tensor& q, const torch::Tensor& k,
                               const torch::Tensor& v) {
#if TORCH_VERSION_MAJOR >= 2
  const int64_t h = q.size(1), tq = q.size(2), tk = k.size(2);
#if DREAMER_SDPA_GQA
  // Without a mask the flash kernel reads the grouped heads directly.
  if (k.size(1) != h && (tq == tk || tq == 1))
    return at::scaled_dot_product_attention(q, k, v, {}, 0.0, /*is_causal=*/tq == tk,
                                            /*scale=*/c10::nullopt, /*enable_gqa=*/true);
#endif
  auto kk = repeat_kv(k, h), vv = repeat_kv(v, h);
  if (tq == tk) return at::scaled_dot_product_attention(q, kk, vv, {}, 0.0, /*is_causal=*/true);
  if (tq == 1) return at::scaled_dot_product_attention(q, kk, vv, {}, 0.0, /*is_causal=*/false);
  return at::scaled_dot_product_attention(q, kk, vv, causal_mask(tq, tk, q.device()), 0.0, false);
#else
  return causal_attention_reference(q, k, v);
#endif
}

torch::Tensor key_masked_attention_reference(const torch::Tensor& q, const torch::Tensor& k,
                                             const torch::Tensor& v,
                                             const torch::Tensor& key_mask) {
  return masked_attention_reference(q, k, v, key_mask);
}

torch::Tensor key_masked_attention(const torch::Tensor& q, const torch::Tensor& k,
                                   const torch::Tensor& v, const torch::Tensor& key_mask) {
  TORCH_CHECK(q.size(2) == 1, "key_masked_attention takes one query per row, got ", q.size(2));
#if TORCH_VERSION_MAJOR >= 2
  const int64_t h = q.size(1);
  // SDPA reads the mask's last two dims as [Tq, Tk]: [C] -> [1, 1, 1, C].
  const auto mask = key_mask.view({1, 1, 1, -1});
#if DREAMER_SDPA_GQA
  if (k.size(1) != h)
    return at::scaled_dot_product_attention(q, k, v, mask, 0.0, /*is_causal=*/false,
                                            /*scale=*/c10::nullopt, /*enable_gqa=*/true);
#endif
  return at::scaled_dot_product_attention(q, repeat_kv(k, h), repeat_kv(v, h), mask, 0.0,
                                          /*is_causal=*/false);
#else
  return key_masked_attention_reference(q, k, v, key_mask);
#endif
}

}  // namespace dreamer::models
