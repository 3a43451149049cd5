#include "models/blocks/checkpoint.h"

#include <ATen/autocast_mode.h>
#include <ATen/core/ivalue.h>
#include <torch/version.h>

#include <stdexcept>

// LibTorch 2.4 replaced the CUDA-only autocast switches with per-device-type ones.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define DREAMER_CKPT_AUTOCAST_PER_DEVICE 1
#endif

namespace dreamer::models {

namespace {

thread_local bool t_enabled = false;
thread_local int t_recomputing = 0;

struct AutocastState {
  bool enabled = false;
  at::ScalarType dtype = at::kBFloat16;
};

AutocastState cuda_autocast() {
#ifdef DREAMER_CKPT_AUTOCAST_PER_DEVICE
  return {at::autocast::is_autocast_enabled(at::kCUDA),
          at::autocast::get_autocast_dtype(at::kCUDA)};
#else
  return {at::autocast::is_enabled(), at::autocast::get_autocast_gpu_dtype()};
#endif
}

void set_cuda_autocast(const AutocastState& s) {
#ifdef DREAMER_CKPT_AUTOCAST_PER_DEVICE
  at::autocast::set_autocast_dtype(at::kCUDA, s.dtype);
  at::autocast::set_autocast_enabled(at::kCUDA, s.enabled);
#else
  at::autocast::set_autocast_gpu_dtype(s.dtype);
  at::autocast::set_enabled(s.enabled);
#endif
}

// The block's function, carried through the autograd context as an IValue capsule.
struct FnHolder : torch::CustomClassHolder {
  CheckpointFn fn;
  AutocastState autocast;
};

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

struct Checkpoint : torch::autograd::Function<Checkpoint> {
  // TensorList, not a vector: Function::apply registers only tensors, optionals and
  // TensorLists as inputs (a std::vector would be taken for a non-tensor argument).
  static variable_list forward(AutogradContext* ctx, at::TensorList input_list,
                               c10::intrusive_ptr<torch::CustomClassHolder> holder) {
    auto* h = static_cast<FnHolder*>(holder.get());
    const variable_list inputs = input_list.vec();
    variable_list outputs = h->fn(inputs);  // autograd is off inside Function::forward
    ctx->save_for_backward(inputs);
    ctx->saved_data["fn"] = c10::IValue::make_capsule(std::move(holder));
    return outputs;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto holder = ctx->saved_data["fn"].toCapsule();
    auto* h = static_cast<FnHolder*>(holder.get());
    variable_list inputs;
    for (const auto& t : ctx->get_saved_variables())
      inputs.push_back(t.defined() ? t.detach().requires_grad_(t.requires_grad()) : t);
    variable_list outputs;
    {
      // The forward again, as it ran: with gradients, under the forward's autocast state.
      torch::AutoGradMode grad(true);
      const AutocastState before = cuda_autocast();
      set_cuda_autocast(h->autocast);
      ++t_recomputing;
      try {
        outputs = h->fn(inputs);
      } catch (...) {
        --t_recomputing;
        set_cuda_autocast(before);
        throw;
      }
      --t_recomputing;
      set_cuda_autocast(before);
      if (h->autocast.enabled) at::autocast::clear_cache();
    }
    variable_list roots, root_grads;
    for (size_t i = 0; i < outputs.size(); ++i) {
      if (!outputs[i].requires_grad() || !grads[i].defined()) continue;
      roots.push_back(outputs[i]);
      root_grads.push_back(grads[i]);
    }
    // Accumulates into the parameters' .grad (as the un-checkpointed graph would) and into
    // the detached inputs, whose gradients go back to the outer graph.
    if (!roots.empty()) torch::autograd::backward(roots, root_grads);
    variable_list out;
    for (const auto& t : inputs)
      out.push_back(t.defined() && t.requires_grad() ? t.grad() : torch::Tensor());
    out.emplace_back();  // holder
    return out;
  }
};

}  // namespace

ActivationCheckpointing::ActivationCheckpointing(bool enabled) : previous_(t_enabled) {
  t_enabled = enabled;
}
ActivationCheckpointing::~ActivationCheckpointing() {
  t_enabled = previous_;
}

bool ActivationCheckpointing::active() {
  return t_enabled && torch::GradMode::is_enabled();
}

void ActivationCheckpointing::refuse(const std::string& family, const std::string& why) {
  if (t_enabled)
    throw std::invalid_argument("workload.activation_checkpointing is not supported by " + family +
                                ": " + why);
}

bool recomputing() {
  return t_recomputing > 0;
}

std::vector<torch::Tensor> checkpoint(CheckpointFn fn, const std::vector<torch::Tensor>& inputs) {
  auto holder = c10::make_intrusive<FnHolder>();
  holder->fn = std::move(fn);
  holder->autocast = cuda_autocast();
  return Checkpoint::apply(at::TensorList(inputs),
                           c10::intrusive_ptr<torch::CustomClassHolder>(std::move(holder)));
}

}  // namespace dreamer::models
