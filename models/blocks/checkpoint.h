#pragma once
// Activation checkpointing: a block (or depth step) runs its forward without keeping anything
// for backward, only its inputs are saved, and backward runs the forward again with gradients
// and backpropagates through that (PyTorch's reentrant torch.utils.checkpoint, as an
// autograd::Function). Selected by the workload's activation_checkpointing setting through a
// thread-local mode, like autocast: the runner turns it on around a run, and every family
// either checkpoints its blocks or refuses (ActivationCheckpointing::refuse) in its forward.
//
// What the recomputation must reproduce: autocast's state (restored in backward, which may run
// on another thread), and no side effect may happen twice: routers skip their load counting
// while recomputing (recomputing()). No block of this code draws random numbers (no dropout),
// so no RNG state needs restoring.
#include <torch/torch.h>

#include <functional>
#include <string>
#include <vector>

namespace dreamer::models {

class ActivationCheckpointing {
 public:
  explicit ActivationCheckpointing(bool enabled);  // sets the mode for this thread
  ~ActivationCheckpointing();                      // restores the previous one
  ActivationCheckpointing(const ActivationCheckpointing&) = delete;
  ActivationCheckpointing& operator=(const ActivationCheckpointing&) = delete;

  // On for this thread, and gradients are being recorded (no-grad steps need no checkpoint).
  static bool active();
  // Throws std::invalid_argument naming the family when the mode is on.
  static void refuse(const std::string& family, const std::string& why);

 private:
  bool previous_;
};

// True while a checkpointed block's forward is being recomputed in backward.
bool recomputing();

using CheckpointFn = std::function<std::vector<torch::Tensor>(const std::vector<torch::Tensor>&)>;
// Runs fn(inputs) keeping only `inputs` for backward; outputs must be floating-point tensors.
// fn must capture what it needs by value (it runs again in backward).
std::vector<torch::Tensor> checkpoint(CheckpointFn fn, const std::vector<torch::Tensor>& inputs);

}  // namespace dreamer::models
