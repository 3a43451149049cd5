#include "models/blocks/sequence_attention.h"

#include <tuple>

#include "models/blocks/attention_core.h"
#include "models/blocks/rope.h"
#include "util/errors.h"

namespace dreamer::models {

void validate_head_layout(const std::string& p, int64_t d_model, int64_t n_heads,
                          int64_t n_kv_heads, int64_t head_dim, bool rope) {
  auto require = [&](bool ok, const std::string& field, const std::string& what) {
    if (!ok) throw InputError(p + "." + field, what);
  };
  require(n_heads > 0, "n_heads", "must be positive, got " + std::to_string(n_heads));
  const int64_t kv = n_kv_heads ? n_kv_heads : n_heads;
  require(
      n_kv_heads >= 0 && n_heads % kv == 0, "n_kv_heads",
      "must divide n_heads (" + std::to_string(n_heads) + "), got " + std::to_string(n_kv_heads));
  require(head_dim >= 0, "head_dim", "must be positive (or 0 for d_model / n_heads)");
  if (head_dim == 0)
    require(d_model % n_heads == 0, "n_heads",
            "head dim does not divide the width: d_model " + std::to_string(d_model) +
                " is not a multiple of n_heads " + std::to_string(n_heads) +
                " (set head_dim explicitly or change n_heads)");
  const int64_t dh = head_dim ? head_dim : d_model / n_heads;
  if (rope)
    require(dh % 2 == 0, "head_dim", "RoPE needs an even head dim, got " + std::to_string(dh));
}

SequenceAttentionImpl::SequenceAttentionImpl(const SequenceAttentionOptions& opt) : options(opt) {
  using torch::nn::LinearOptions;
  const int64_t hq = opt.n_heads * opt.head_dim, hkv = opt.n_kv_heads * opt.head_dim;
  const bool qk_bias = opt.bias || opt.qk_bias;
  q = register_module("q", torch::nn::Linear(LinearOptions(opt.d_model, hq).bias(qk_bias)));
  k = register_module("k", torch::nn::Linear(LinearOptions(opt.d_model, hkv).bias(qk_bias)));
  v = register_module("v", torch::nn::Linear(LinearOptions(opt.d_model, hkv).bias(opt.bias)));
  o = register_module("o", torch::nn::Linear(LinearOptions(hq, opt.d_model).bias(opt.bias)));
  declare_roles("q", *q, ParameterRole::kProjection);
  declare_roles("k", *k, ParameterRole::kProjection);
  declare_roles("v", *v, ParameterRole::kProjection);
  declare_roles("o", *o, ParameterRole::kResidualOutput);
}

QKV SequenceAttentionImpl::project(const torch::Tensor& x_qk, const torch::Tensor& x_v,
                                   int64_t start, const KVCache* cache) {
  const int64_t b = x_qk.size(0), t = x_qk.size(1), dh = options.head_dim;
  auto heads = [&](const torch::Tensor& y, int64_t n) {
    return y.view({b, t, n, dh}).transpose(1, 2);  // [B, n, T, Dh]
  };
  QKV out{heads(q(x_qk), options.n_heads), heads(k(x_qk), options.n_kv_heads),
          heads(v(x_v), options.n_kv_heads)};
  if (options.rope) {
    // One table per head_dim/base for the process: built once, not at every depth and step.
    // Static decoding reads the position on the device (models/static_decode.h).
    const auto rows_dtype = rope_qk_rows_dtype(out.q);  // float32 for the fused kernel
    const auto [cos, sin] =
        cache && cache->is_static()
            ? shared_rope_rows_at(dh, options.rope_base, cache->slot, cache->k.size(2), rows_dtype)
            : shared_rope_rows(dh, options.rope_base, start, t, x_qk.device(), rows_dtype);
    // q and k in one autograd node: on CUDA one fused kernel each way, reading the strided
    // views directly (apply_rope_cos_sin launches 7 kernels per tensor: 4 mul, sub, add, cat).
    std::tie(out.q, out.k) = apply_rope_qk(out.q, out.k, cos, sin);
  }
  return out;
}

torch::Tensor SequenceAttentionImpl::output(const torch::Tensor& heads) {
  const int64_t b = heads.size(0), t = heads.size(2);
  return o(heads.transpose(1, 2).reshape({b, t, options.n_heads * options.head_dim}));
}

torch::Tensor SequenceAttentionImpl::forward(const torch::Tensor& x_qk, const torch::Tensor& x_v,
                                             int64_t start, KVCache* cache) {
  QKV p = project(x_qk, x_v, start, cache);
  torch::Tensor k_all = p.k, v_all = p.v;
  if (cache) std::tie(k_all, v_all) = cache->append(p.k, p.v);
  if (cache && cache->is_static())
    return output(key_masked_attention(p.q, k_all, v_all, cache->valid));
  return output(causal_attention(p.q, k_all, v_all));
}

}  // namespace dreamer::models
