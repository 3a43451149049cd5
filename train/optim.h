#pragma once
// Optimizer steps without a loop of small kernels per parameter and without host reads.
//
// FusedAdamW is torch::optim::AdamW (same options, parameter groups, state and checkpoint
// format) whose step runs as one fused kernel per group on a GPU (at::_fused_adamw_, LibTorch
// >= 2.2 with CUDA) or as _foreach_ operations elsewhere; both compute AdamW's update (tested
// against torch::optim::AdamW). amsgrad falls back to AdamW's own step.
//
// clip_grad_norm computes the clipping coefficient on the device and returns the norm as a
// tensor: the caller reads it (one synchronisation) only when it logs.
#include <torch/torch.h>

#include <unordered_map>
#include <vector>

namespace dreamer::train {

class FusedAdamW : public torch::optim::AdamW {
 public:
  using torch::optim::AdamW::AdamW;
  torch::Tensor step(LossClosure closure = nullptr) override;

  enum class Path { kFused, kForeach };
  // The path a step over these parameters takes (tests; a group may also fall back at run time).
  static Path path_for(const std::vector<torch::Tensor>& params);
  bool allow_fused = true;  // false: the foreach path even on a GPU (tests)

 private:
  struct DeviceStep {  // the float32 step counter the fused kernel reads, mirrored on the host
    torch::Tensor value;
    int64_t host = -1;
  };
  std::unordered_map<const void*, DeviceStep> device_steps_;
};

// Scales every defined gradient by min(1, max_norm / (total_norm + 1e-6)) (as
// torch::nn::utils::clip_grad_norm_ does) and returns the total 2-norm before clipping, a
// scalar on the gradients' device (in their dtype; float32 zero when none has a gradient). max_norm
// = infinity only measures.
torch::Tensor clip_grad_norm(const std::vector<torch::Tensor>& params, double max_norm);

// Whether this build has at::_fused_adamw_ (LibTorch >= 2.2 built with CUDA).
bool fused_adamw_compiled();

}  // namespace dreamer::train
