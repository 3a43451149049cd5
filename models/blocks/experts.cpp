#include "models/blocks/experts.h"

#include <cmath>

#include "models/blocks/attention_core.h"
#include "models/blocks/rope.h"

namespace dreamer::models {

RouterImpl::RouterImpl(const RouterOptions& opt) : options(opt) {
  // An identity query lives in the model's width; a linear one defaults to it.
  if (options.query == RouterQuery::kIdentity || options.router_dim == 0)
    options.router_dim = opt.d_model;
  const int64_t dk = options.router_dim;
  if (options.query == RouterQuery::kLinear)
    query = register_module(
        "query", torch::nn::Linear(torch::nn::LinearOptions(opt.d_model, dk).bias(false)));
  expert_keys = register_parameter("expert_keys", torch::randn({opt.n_experts, dk}) / std::sqrt(dk));
  if (opt.depth_encoding == DepthEncoding::kLearnedOffset)
    depth_offset = register_parameter("depth_offset", torch::zeros({opt.max_depth + 1, dk}));
  selection_bias = register_buffer("selection_bias", torch::zeros({opt.n_experts}));
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
          torch::full({1}, depth, torch::kLong), total, q.size(-1), options.rope_base);
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
    if (is_training())
      expert_load.add_(torch::bincount(out.ids.reshape(-1), {}, options.n_experts).to(torch::kFloat32));
  }
  out.gates = out.scores.gather(1, out.ids);
  if (options.renormalize) out.gates = out.gates / (out.gates.sum(-1, true) + 1e-9);
  return out;
}

void RouterImpl::update_bias() {
  torch::NoGradGuard no_grad;
  if (options.balancing_bias && expert_load.sum().item<double>() > 0) {
    auto delta = options.bias_update_rate * torch::sign(expert_load.mean() - expert_load);
    selection_bias.add_(delta - delta.mean());  // a constant shift changes no selection
  }
  expert_load.zero_();
}

ExpertFFNImpl::ExpertFFNImpl(int64_t n, int64_t d, int64_t de, Activation act)
    : n_experts(n), expert_dim(de), activation(act) {
  w_up = register_parameter("w_up", torch::randn({n, d, de}) * 0.02);
  if (act == Activation::kSwiGLU) w_gate = register_parameter("w_gate", torch::randn({n, d, de}) * 0.02);
  w_down = register_parameter("w_down", torch::randn({n, de, d}) * 0.02);
}

torch::Tensor ExpertFFNImpl::apply_expert(int64_t e, const torch::Tensor& x) {
  auto up = torch::matmul(x, w_up[e]);
  auto h = activation == Activation::kSwiGLU ? torch::silu(torch::matmul(x, w_gate[e])) * up
                                             : activate(up, activation);
  return torch::matmul(h, w_down[e]);
}

torch::Tensor dispatch_to_experts(const torch::Tensor& x, const torch::Tensor& ids,
                                  const torch::Tensor& gates, int64_t n_experts,
                                  const ExpertFn& expert) {
  const int64_t k = ids.size(1);
  auto flat_ids = ids.reshape(-1);                                  // [N*k]
  auto order = std::get<1>(flat_ids.sort(c10::optional<bool>(true), 0, false));  // slots grouped by expert
  auto token_of_slot = torch::div(order, k, "floor");               // [N*k]
  auto counts = torch::bincount(flat_ids, {}, n_experts).to(torch::kCPU);
  auto x_sorted = x.index_select(0, token_of_slot);                 // [N*k, din]
  std::vector<torch::Tensor> outputs;
  const int64_t* count = counts.data_ptr<int64_t>();
  int64_t offset = 0;
  for (int64_t e = 0; e < n_experts; ++e) {
    if (count[e] == 0) continue;
    outputs.push_back(expert(e, x_sorted.narrow(0, offset, count[e])));
    offset += count[e];
  }
  auto y_sorted = torch::cat(outputs, 0);                           // [N*k, dout]
  if (gates.defined())
    y_sorted = y_sorted * gates.reshape(-1).index_select(0, order).unsqueeze(1).to(y_sorted.scalar_type());
  return torch::zeros({x.size(0), y_sorted.size(1)}, y_sorted.options())
      .index_add(0, token_of_slot, y_sorted);
}

torch::Tensor ExpertFFNImpl::forward(const torch::Tensor& x, const torch::Tensor& ids,
                                     const torch::Tensor& gates) {
  return dispatch_to_experts(x, ids, gates, n_experts,
                             [this](int64_t e, const torch::Tensor& rows) { return apply_expert(e, rows); });
}

}  // namespace dreamer::models
