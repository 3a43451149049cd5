#include "models/blocks/experts.h"

#include <torch/version.h>

#include <cmath>

// at::_grouped_mm (with autograd) from LibTorch 2.9, in CUDA builds.
#if defined(DREAMER_WITH_CUDA) && \
    (TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 9))
#define DREAMER_GROUPED_MM 1
#include <ATen/autocast_mode.h>
#include <ATen/ops/_grouped_mm.h>
#else
#define DREAMER_GROUPED_MM 0
#endif

#include "models/blocks/attention_core.h"
#include "models/blocks/checkpoint.h"
#include "models/blocks/rope.h"
#include "models/blocks/slot_permutation.h"
#include "models/blocks/swiglu.h"

namespace dreamer::models {

RouterImpl::RouterImpl(const RouterOptions& opt) : options(opt) {
  // An identity query lives in the model's width; a linear one defaults to it.
  if (options.query == RouterQuery::kIdentity || options.router_dim == 0)
    options.router_dim = opt.d_model;
  const int64_t dk = options.router_dim;
  if (options.query == RouterQuery::kLinear) {
    query = register_module(
        "query", torch::nn::Linear(torch::nn::LinearOptions(opt.d_model, dk).bias(false)));
    declare_roles("query", *query, ParameterRole::kRouter);
  }
  expert_keys =
      register_parameter("expert_keys", torch::randn({opt.n_experts, dk}) / std::sqrt(dk));
  declare_role("expert_keys", ParameterRole::kRouter);
  if (opt.depth_encoding == DepthEncoding::kLearnedOffset) {
    depth_offset = register_parameter("depth_offset", torch::zeros({opt.max_depth + 1, dk}));
    declare_role("depth_offset", ParameterRole::kRouter);
  }
  selection_bias = register_buffer("selection_bias", torch::zeros({opt.n_experts}));
  declare_role("selection_bias", ParameterRole::kBalancingBias);
  expert_load = register_buffer("expert_load", torch::zeros({opt.n_experts}));
}

RouterOutput RouterImpl::forward(const torch::Tensor& x, int64_t depth, int64_t total) {
  torch::Tensor q = query ? query(x) : x;  // [N, dk]
  switch (options.depth_encoding) {
    case DepthEncoding::kNone:
      break;
    case DepthEncoding::kLearnedOffset:
      TORCH_CHECK(depth <= options.max_depth, "expert routing: depth ", depth,
                  " exceeds the learned offsets' max_depth ", options.max_depth);
      q = q + depth_offset[depth];
      break;
    case DepthEncoding::kRope: {
      // Rotating only the query by the depth makes q.K depend on depth (keys stay fixed).
      auto angles = depth_rope_angles_forward_reverse(
          torch::full({1}, depth, torch::dtype(torch::kLong).device(q.device())), total, q.size(-1),
          options.rope_base);
      q = apply_rope(q, angles);
      break;
    }
  }
  RouterOutput out;
  out.logits = at_least_float32(torch::matmul(q, expert_keys.t()));  // [N, E]
  out.scores = options.gate == GateKind::kSigmoid ? torch::sigmoid(out.logits)
                                                  : torch::softmax(out.logits, -1);
  {
    torch::NoGradGuard no_grad;  // selection is not differentiable
    const auto& biased = options.bias_placement == BiasPlacement::kScores ? out.scores : out.logits;
    auto select_on = options.balancing_bias ? biased + selection_bias : biased;
    out.ids = std::get<1>(select_on.topk(options.k, -1));
    if (is_training() && !recomputing())  // a checkpointed block counts its load once
      // scatter_add, not bincount: bincount sizes its output from the maximum id, a host read.
      expert_load.scatter_add_(0, out.ids.reshape(-1),
                               torch::ones({out.ids.numel()}, expert_load.options()));
  }
  out.gates = out.scores.gather(1, out.ids);
  if (options.renormalize) out.gates = out.gates / (out.gates.sum(-1, true) + 1e-9);
  return out;
}

void RouterImpl::update_bias() {
  torch::NoGradGuard no_grad;
  // No host read of the load (it would synchronise every router after every step): with no
  // selection counted, sign(mean - load) is 0 everywhere, so the bias stays as it is.
  if (options.balancing_bias) {
    auto delta = options.bias_update_rate * torch::sign(expert_load.mean() - expert_load);
    selection_bias.add_(delta - delta.mean());  // a constant shift changes no selection
  }
  expert_load.zero_();
}

ExpertFFNImpl::ExpertFFNImpl(int64_t n, int64_t d, int64_t de, Activation act)
    : n_experts(n), d_model(d), expert_dim(de), activation(act) {
  w_up = register_parameter("w_up", torch::randn({n, d, de}) * 0.02);
  declare_role("w_up", ParameterRole::kProjection);
  if (act == Activation::kSwiGLU) {
    w_gate = register_parameter("w_gate", torch::randn({n, d, de}) * 0.02);
    declare_role("w_gate", ParameterRole::kProjection);
  }
  w_down = register_parameter("w_down", torch::randn({n, de, d}) * 0.02);
  declare_role("w_down", ParameterRole::kResidualOutput);
}

torch::Tensor ExpertFFNImpl::apply_expert(int64_t e, const torch::Tensor& x) {
  auto up = torch::matmul(x, w_up[e]);
  auto h = activation == Activation::kSwiGLU ? swiglu(torch::matmul(x, w_gate[e]), up)
                                             : activate(up, activation);
  return torch::matmul(h, w_down[e]);
}

ExpertSlots sort_slots(const torch::Tensor& ids, int64_t n_experts) {
  const int64_t k = ids.size(1);
  auto flat_ids = ids.reshape(-1);  // [N*k]
  auto [sorted_ids, order] = flat_ids.sort(c10::optional<bool>(true), 0, false);
  ExpertSlots slots;
  slots.order = order;
  slots.token_of_slot = torch::div(order, k, "floor");
  // ends[e] = number of slots with expert <= e; searchsorted stays on the device where
  // bincount (which sizes its output from the maximum) would read it on the host.
  auto experts = torch::arange(n_experts, flat_ids.options());
  slots.ends = torch::searchsorted(sorted_ids, experts, /*out_int32=*/false, /*right=*/true);
  slots.position =
      torch::empty_like(order).scatter_(0, order, torch::arange(order.numel(), order.options()));
  return slots;
}

torch::Tensor combine_slots(const torch::Tensor& y_sorted, const ExpertSlots& slots,
                            const torch::Tensor& gates, int64_t n_tokens, int64_t k) {
  // Gathering back to slot order and reducing the k choices with a weighted sum is
  // deterministic (index_add would use atomics on a GPU), and so is its backward: position is a
  // permutation whose inverse is order (sort_slots), so the gradient is gathered back with order.
  // Elementwise, not a batched matmul: combining is no matrix product in the cost model's FLOP
  // convention (docs/MATCHING.md).
  auto y =
      permute_rows(y_sorted, slots.position, slots.order).view({n_tokens, k, y_sorted.size(1)});
  if (!gates.defined()) return y.sum(1);
  return (y * gates.to(y.scalar_type()).unsqueeze(-1)).sum(1);  // [N, dout]
}

torch::Tensor dispatch_to_experts(const torch::Tensor& x, const torch::Tensor& ids,
                                  const torch::Tensor& gates, int64_t n_experts,
                                  const ExpertFn& expert) {
  const ExpertSlots slots = sort_slots(ids, n_experts);
  auto ends = slots.ends.to(torch::kCPU);  // the loop needs the counts on the host
  const int64_t* end = ends.data_ptr<int64_t>();
  auto x_sorted = gather_to_slots(x, slots.token_of_slot, slots.position);  // [N*k, din]
  std::vector<torch::Tensor> outputs;
  int64_t offset = 0;
  for (int64_t e = 0; e < n_experts; ++e) {
    if (end[e] == offset) continue;
    outputs.push_back(expert(e, x_sorted.narrow(0, offset, end[e] - offset)));
    offset = end[e];
  }
  return combine_slots(torch::cat(outputs, 0), slots, gates, x.size(0), ids.size(1));
}

torch::Tensor ExpertFFNImpl::forward_loop(const torch::Tensor& x, const torch::Tensor& ids,
                                          const torch::Tensor& gates) {
  // unbind once: its backward stacks the per-expert gradients into one tensor, where w_up[e]
  // per expert would write a zero-filled full-size gradient for each.
  const auto up = w_up.unbind(0), down = w_down.unbind(0);
  const auto gate = w_gate.defined() ? w_gate.unbind(0) : std::vector<torch::Tensor>{};
  return dispatch_to_experts(x, ids, gates, n_experts, [&](int64_t e, const torch::Tensor& rows) {
    auto u = torch::matmul(rows, up[e]);
    auto h = activation == Activation::kSwiGLU ? swiglu(torch::matmul(rows, gate[e]), u)
                                               : activate(u, activation);
    return torch::matmul(h, down[e]);
  });
}

bool grouped_experts_compiled() {
  return DREAMER_GROUPED_MM != 0;
}

namespace {
// The dtype the expert matmuls run in: autocast's on a GPU where it is on, else x's.
torch::ScalarType compute_dtype(const torch::Tensor& x) {
#if DREAMER_GROUPED_MM
  if (x.is_cuda() && at::autocast::is_autocast_enabled(at::kCUDA))
    return at::autocast::get_autocast_dtype(at::kCUDA);
#endif
  return x.scalar_type();
}
}  // namespace

bool ExpertFFNImpl::grouped_on(const torch::Device& device) const {
  // The residual stream's dtype (float32); grouped_available reads autocast's compute dtype.
  const auto probe = torch::empty({0}, torch::dtype(torch::kFloat32).device(device));
  return use_grouped && grouped_available(probe);
}

bool ExpertFFNImpl::grouped_available(const torch::Tensor& x) const {
  return DREAMER_GROUPED_MM && x.is_cuda() && compute_dtype(x) == torch::kBFloat16 &&
         d_model % 8 == 0 && expert_dim % 8 == 0 && n_experts < 1024;
}

torch::Tensor ExpertFFNImpl::forward_grouped(const torch::Tensor& x, const torch::Tensor& ids,
                                             const torch::Tensor& gates) {
#if DREAMER_GROUPED_MM
  TORCH_CHECK(x.is_cuda(), "grouped experts need a CUDA tensor");
  const auto dtype = compute_dtype(x);
  const bool autocast = at::autocast::is_autocast_enabled(at::kCUDA);
  // Autocast's cached cast converts each weight once per autocast region (shared by every
  // depth of a recurrent layer), as it does for nn::Linear.
  auto cast = [&](const torch::Tensor& w) {
    return autocast ? at::autocast::cached_cast(dtype, w, c10::DeviceType::CUDA) : w.to(dtype);
  };
  const ExpertSlots slots = sort_slots(ids, n_experts);
  const auto offsets = slots.ends.to(torch::kInt32);  // cumulative row ends, on the device
  // Cast the N token rows, not the N*k slots, so the gather and its backward move bf16.
  auto rows = gather_to_slots(x.to(dtype), slots.token_of_slot, slots.position);  // [N*k, d]
  auto up = at::_grouped_mm(rows, cast(w_up), offsets);
  auto h = activation == Activation::kSwiGLU
               ? swiglu(at::_grouped_mm(rows, cast(w_gate), offsets), up)
               : activate(up, activation);
  if (fold_gates && gates.defined()) {
    // gates [N, k] in slot order: slot s is (token order[s] / k, choice order[s] % k).
    auto slot_gates =
        permute_rows(gates.reshape(-1), slots.order, slots.position).to(h.scalar_type());
    auto y = at::_grouped_mm(h * slot_gates.unsqueeze(1), cast(w_down), offsets);  // [N*k, d]
    return combine_slots(y, slots, torch::Tensor(), x.size(0), ids.size(1));
  }
  auto y = at::_grouped_mm(h, cast(w_down), offsets);  // [N*k, d]
  return combine_slots(y, slots, gates, x.size(0), ids.size(1));
#else
  (void)x, (void)ids, (void)gates;
  TORCH_CHECK(false, "grouped experts need LibTorch >= 2.9 built with CUDA");
#endif
}

torch::Tensor ExpertFFNImpl::forward(const torch::Tensor& x, const torch::Tensor& ids,
                                     const torch::Tensor& gates) {
  if (use_grouped && grouped_available(x)) return forward_grouped(x, ids, gates);
  return forward_loop(x, ids, gates);
}

}  // namespace dreamer::models
