#pragma once
// Causal scaled dot-product attention: at::scaled_dot_product_attention on LibTorch >= 2.0,
// an exact reference implementation otherwise. Both compute the same function; a test
// compares them where both exist.
#include <torch/torch.h>

namespace dreamer::models {

// q [B, H, Tq, Dh]; k, v [B, Hkv, Tk, Dh] with H % Hkv == 0 (grouped-query attention).
// Query i sits at absolute position (Tk - Tq + i) and sees keys 0..that position.
torch::Tensor causal_attention(const torch::Tensor& q, const torch::Tensor& k,
                               const torch::Tensor& v);
// The plain reference path (always available), used as the 1.13 fallback.
torch::Tensor causal_attention_reference(const torch::Tensor& q, const torch::Tensor& k,
                                         const torch::Tensor& v);
bool fused_attention_available();

// One query per row (a static decoding step, models/static_decode.h) against full-capacity key
// and value buffers: q [B, H, 1, Dh], k, v [B, Hkv, C, Dh], key_mask [C] bool, true for the
// written entries (the query's position and every earlier one). SDPA with the mask on LibTorch
// >= 2.0, the reference computation otherwise; the same function as causal_attention over the
// valid prefix.
torch::Tensor key_masked_attention(const torch::Tensor& q, const torch::Tensor& k,
                                   const torch::Tensor& v, const torch::Tensor& key_mask);
torch::Tensor key_masked_attention_reference(const torch::Tensor& q, const torch::Tensor& k,
                                             const torch::Tensor& v, const torch::Tensor& key_mask);

// Boolean mask [Tq, Tk], true where query i may see key j (j <= Tk - Tq + i).
torch::Tensor causal_mask(int64_t tq, int64_t tk, const torch::Device& device);

// Softmax and norm statistics in at least float32: half/bfloat16 are upcast, float64 kept.
torch::Tensor at_least_float32(const torch::Tensor& scores);

// Repeats grouped key/value heads to match the query heads: [B, Hkv, T, D] -> [B, H, T, D].
torch::Tensor repeat_kv(const torch::Tensor& x, int64_t n_heads);

}  // namespace dreamer::models
