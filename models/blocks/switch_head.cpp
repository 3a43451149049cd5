#include "models/blocks/switch_head.h"

#include <cmath>

#include "models/blocks/attention_core.h"
#include "models/blocks/experts.h"
#include "models/blocks/rope.h"

namespace dreamer::models {

int64_t SwitchHeadOptions::rotated_dims() const {
  return static_cast<int64_t>(rotate_fraction * static_cast<double>(head_dim)) / 2 * 2;
}

SwitchHeadImpl::SwitchHeadImpl(const SwitchHeadOptions& opt) : options(opt) {
  using torch::nn::LinearOptions;
  const int64_t d = opt.d_model, h = opt.n_heads, dh = opt.head_dim, e = opt.n_experts;
  q = register_module("q", torch::nn::Linear(LinearOptions(d, h * dh).bias(false)));
  k = register_module("k", torch::nn::Linear(LinearOptions(d, h * dh).bias(false)));
  if (e > 1) {
    v = register_parameter("v", torch::empty({h * e, d, dh}));
    o = register_parameter("o", torch::empty({h * e, dh, d}));
    sel_v = register_parameter("sel_v", torch::empty({h * e, d}));
  } else {
    v = register_parameter("v", torch::empty({h * dh, d}));
    o = register_parameter("o", torch::empty({d, h * dh}));
  }
  sel_o = register_parameter("sel_o", torch::empty({h * e, d}));
  declare_roles("q", *q, ParameterRole::kProjection);
  declare_roles("k", *k, ParameterRole::kProjection);
  declare_role("v", ParameterRole::kProjection);
  declare_role("o", ParameterRole::kResidualOutput);
  if (sel_v.defined()) declare_role("sel_v", ParameterRole::kRouter);
  declare_role("sel_o", ParameterRole::kRouter);
  reset_parameters(1.0);
}

void renorm_rows(torch::Tensor& w) {
  torch::NoGradGuard no_grad;
  auto row_std = w.std(-1, /*unbiased=*/true, /*keepdim=*/true);
  w.div_(w.norm(2, -1, true));
  w.mul_(row_std / w.std());
}

void SwitchHeadImpl::reset_parameters(double s) {
  torch::NoGradGuard no_grad;
  const double d = static_cast<double>(options.d_model);
  if (sel_v.defined()) {
    sel_v.normal_(0.0, s / std::sqrt(d));
    renorm_rows(sel_v);
  }
  sel_o.normal_(0.0, s / std::sqrt(d));
  renorm_rows(sel_o);
  k->weight.normal_(0.0, s / std::sqrt(d));
  q->weight.normal_(0.0, s / std::sqrt(d));
  v.normal_(0.0, s / std::sqrt(d));
  o.normal_(0.0, s / std::sqrt(static_cast<double>(options.n_heads * options.head_dim)));
}

void SwitchHeadImpl::select(const torch::Tensor& x, const torch::Tensor& w, torch::Tensor& logits,
                            torch::Tensor& ids, torch::Tensor& gates) {
  const int64_t h = options.n_heads, e = options.n_experts;
  logits = torch::matmul(x, w.t()).to(torch::kFloat32);
  logits = logits.view({x.size(0), x.size(1), h, e});  // [B, T, H, E]
  auto scores = torch::sigmoid(logits);
  {
    torch::NoGradGuard no_grad;
    ids = std::get<1>(scores.topk(options.k, -1));  // [B, T, H, k]
  }
  gates = scores.gather(-1, ids);
}

torch::Tensor SwitchHeadImpl::forward(const torch::Tensor& x_qk, const torch::Tensor& x_v,
                                      int64_t start, KVCache* cache,
                                      SwitchHeadSelection* selection) {
  const int64_t b = x_qk.size(0), t = x_qk.size(1), d = options.d_model;
  const int64_t h = options.n_heads, dh = options.head_dim, e = options.n_experts;
  auto heads = [&](const torch::Tensor& y) { return y.view({b, t, h, dh}).transpose(1, 2); };
  auto qh = heads(q(x_qk)), kh = heads(k(x_qk));  // [B, H, T, Dh]
  const int64_t nr = options.rotated_dims();
  if (nr > 0) {
    auto angles =
        rope_angles(torch::arange(start, start + t, x_qk.device()), nr, options.rope_base);
    auto rotate = [&](const torch::Tensor& x) {
      return torch::cat({apply_rope(x.narrow(-1, 0, nr), angles), x.narrow(-1, nr, dh - nr)}, -1);
    };
    qh = rotate(qh);
    kh = rotate(kh);
  }

  SwitchHeadSelection sel;
  // Row (n, h) of the [N*H, .] layouts below is token n's head h.
  auto shift =
      (torch::arange(h, torch::dtype(torch::kLong).device(x_qk.device())) * e).view({1, 1, h, 1});
  torch::Tensor vh;
  if (e > 1) {
    select(x_qk, sel_v, sel.v_logits, sel.v_ids, sel.v_gates);
    select(x_qk, sel_o, sel.o_logits, sel.o_ids, sel.o_gates);
    auto rows = x_v.reshape({-1, 1, d}).expand({b * t, h, d}).reshape({-1, d});  // [N*H, d]
    auto weights = v;
    auto values = dispatch_to_experts(
        rows, (sel.v_ids + shift).reshape({-1, options.k}), sel.v_gates.reshape({-1, options.k}),
        h * e, [&](int64_t x, const torch::Tensor& r) { return torch::matmul(r, weights[x]); });
    vh = values.view({b, t, h, dh}).transpose(1, 2);
  } else {
    vh = heads(torch::matmul(x_v, v.t()));
  }
  torch::Tensor k_all = kh, v_all = vh;
  if (cache) std::tie(k_all, v_all) = cache->append(kh, vh);
  auto res = causal_attention(qh, k_all, v_all).transpose(1, 2);  // [B, T, H, Dh]

  torch::Tensor out;
  if (e > 1) {
    auto weights = o;
    auto rows = dispatch_to_experts(
        res.reshape({-1, dh}), (sel.o_ids + shift).reshape({-1, options.k}),
        sel.o_gates.reshape({-1, options.k}), h * e,
        [&](int64_t x, const torch::Tensor& r) { return torch::matmul(r, weights[x]); });
    out = rows.view({b, t, h, d}).sum(2);  // the output sums the heads' projections
  } else {
    auto gate = torch::sigmoid(torch::matmul(x_qk, sel_o.t()));  // [B, T, H]
    out = torch::matmul((res * gate.unsqueeze(-1).to(res.scalar_type())).reshape({b, t, h * dh}),
                        o.t());
  }
  if (selection) *selection = sel;
  return out;
}

int64_t switch_head_parameters(const SwitchHeadOptions& o) {
  const int64_t d = o.d_model, h = o.n_heads, dh = o.head_dim, e = o.n_experts;
  int64_t n = 2 * d * h * dh + h * e * d;  // q, k, sel_o
  if (e > 1)
    n += 2 * h * e * d * dh + h * e * d;  // v, o, sel_v
  else
    n += 2 * h * dh * d;
  return n;
}

}  // namespace dreamer::models
