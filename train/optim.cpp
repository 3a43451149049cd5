#include "train/optim.h"

#include <torch/version.h>

#include <cmath>
#include <map>
#include <sstream>
#include <string>
#include <type_traits>

// at::_fused_adamw_ (CUDA) is in every 2.x release this project meets; 2.2 is a safe floor.
#if defined(DREAMER_WITH_CUDA) && \
    (TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 2))
#define DREAMER_FUSED_ADAMW 1
#include <ATen/ops/_fused_adamw.h>
#else
#define DREAMER_FUSED_ADAMW 0
#endif
// _foreach_mul_ by a tensor scalar (no host read of the clip coefficient) from 2.1.
#define DREAMER_FOREACH_MUL_TENSOR \
  (TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1))

namespace dreamer::train {

namespace {

// The optimizer state is keyed by the parameter's TensorImpl: as a string in LibTorch 1.x
// (c10::guts::to_string of the pointer), as the pointer itself in later releases.
template <typename Key>
Key state_key(const torch::Tensor& p) {
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream s;
    s << p.unsafeGetTensorImpl();
    return s.str();
  } else {
    return p.unsafeGetTensorImpl();
  }
}

// One AdamW step for parameters that share a step count, as torch::optim::AdamW computes it
// (decoupled weight decay, then the bias-corrected update), in _foreach_ operations.
void foreach_adamw(const std::vector<torch::Tensor>& params,
                   const std::vector<torch::Tensor>& grads,
                   const std::vector<torch::Tensor>& exp_avgs,
                   const std::vector<torch::Tensor>& exp_avg_sqs, int64_t step,
                   const torch::optim::AdamWOptions& o) {
  const double lr = o.lr(), beta1 = std::get<0>(o.betas()), beta2 = std::get<1>(o.betas());
  if (o.weight_decay() != 0) at::_foreach_mul_(params, 1 - lr * o.weight_decay());
  const double bias_correction1 = 1 - std::pow(beta1, static_cast<double>(step));
  const double bias_correction2 = 1 - std::pow(beta2, static_cast<double>(step));
  at::_foreach_mul_(exp_avgs, beta1);
  at::_foreach_add_(exp_avgs, grads, 1 - beta1);
  at::_foreach_mul_(exp_avg_sqs, beta2);
  at::_foreach_addcmul_(exp_avg_sqs, grads, grads, 1 - beta2);
  auto denoms = at::_foreach_sqrt(exp_avg_sqs);
  at::_foreach_div_(denoms, std::sqrt(bias_correction2));
  at::_foreach_add_(denoms, o.eps());
  at::_foreach_addcdiv_(params, exp_avgs, denoms, -lr / bias_correction1);
}

}  // namespace

bool fused_adamw_compiled() {
  return DREAMER_FUSED_ADAMW != 0;
}

FusedAdamW::Path FusedAdamW::path_for(const std::vector<torch::Tensor>& params) {
  bool fused = DREAMER_FUSED_ADAMW && !params.empty();
  for (const auto& p : params)
    fused = fused && p.is_cuda() && p.device() == params[0].device() &&
            p.scalar_type() == params[0].scalar_type() && p.is_floating_point();
  return fused ? Path::kFused : Path::kForeach;
}

torch::Tensor FusedAdamW::step(LossClosure closure) {
  for (auto& group : param_groups_)  // not needed by the project's settings: AdamW's own loop
    if (static_cast<torch::optim::AdamWOptions&>(group.options()).amsgrad())
      return torch::optim::AdamW::step(closure);
  torch::NoGradGuard no_grad;
  torch::Tensor loss;
  if (closure) {
    torch::AutoGradMode enable_grad(true);
    loss = closure();
  }
  using Key = std::decay_t<decltype(state_.begin()->first)>;
  for (auto& group : param_groups_) {
    auto& options = static_cast<torch::optim::AdamWOptions&>(group.options());
    std::vector<torch::Tensor> params, grads, exp_avgs, exp_avg_sqs;
    std::vector<int64_t> steps;
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      TORCH_CHECK(!p.grad().is_sparse(), "AdamW does not support sparse gradients");
      auto& slot = state_[state_key<Key>(p)];
      if (!slot) {
        auto state = std::make_unique<torch::optim::AdamWParamState>();
        state->step(0);
        state->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        state->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        slot = std::move(state);
      }
      auto& state = static_cast<torch::optim::AdamWParamState&>(*slot);
      state.step(state.step() + 1);
      params.push_back(p);
      grads.push_back(p.grad());
      exp_avgs.push_back(state.exp_avg());
      exp_avg_sqs.push_back(state.exp_avg_sq());
      steps.push_back(state.step());
    }
    if (params.empty()) continue;
#if DREAMER_FUSED_ADAMW
    if (allow_fused && path_for(params) == Path::kFused) {
      std::vector<torch::Tensor> device_steps;
      for (size_t i = 0; i < params.size(); ++i) {
        auto& ds = device_steps_[params[i].unsafeGetTensorImpl()];
        if (!ds.value.defined())
          ds.value = torch::zeros({}, params[i].options().dtype(torch::kFloat32));
        if (ds.host != steps[i]) ds.value.fill_(static_cast<double>(steps[i]));  // no host read
        ds.host = steps[i];
        device_steps.push_back(ds.value);
      }
      const auto [beta1, beta2] = options.betas();
      at::_fused_adamw_(params, grads, exp_avgs, exp_avg_sqs, /*max_exp_avg_sqs=*/{}, device_steps,
                        options.lr(), beta1, beta2, options.weight_decay(), options.eps(),
                        /*amsgrad=*/false, /*maximize=*/false);
      continue;
    }
#endif
    // Parameters with equal step counts (all of them, unless some missed gradients) together.
    std::map<int64_t, std::vector<size_t>> by_step;
    for (size_t i = 0; i < params.size(); ++i) by_step[steps[i]].push_back(i);
    for (const auto& [step, indices] : by_step) {
      auto pick = [&](const std::vector<torch::Tensor>& all) {
        std::vector<torch::Tensor> out;
        for (size_t i : indices) out.push_back(all[i]);
        return out;
      };
      foreach_adamw(pick(params), pick(grads), pick(exp_avgs), pick(exp_avg_sqs), step, options);
    }
  }
  return loss;
}

torch::Tensor clip_grad_norm(const std::vector<torch::Tensor>& params, double max_norm) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> grads;
  for (const auto& p : params)
    if (p.grad().defined()) grads.push_back(p.grad());
  if (grads.empty()) return torch::zeros({}, torch::kFloat32);
  auto total = torch::stack(at::_foreach_norm(grads, 2)).norm(2);
  if (!std::isfinite(max_norm)) return total;
  auto coef = torch::clamp_max(max_norm / (total + 1e-6), 1.0);
#if DREAMER_FOREACH_MUL_TENSOR
  at::_foreach_mul_(grads, coef);
#else
  for (auto& g : grads) g.mul_(coef);
#endif
  return total;
}

}  // namespace dreamer::train
