#pragma once
// The trainer: optimizer steps over a packed data stream, with the schedule, clipping,
// accumulation, autocast, the models' auxiliary losses and balancing-bias updates, metrics every
// `log_every` steps, and full checkpoints (train/train_state.h) at chosen steps and at the end.
//
// Resuming: resume_from(dir) restores the weights, the optimizer moments, the step, the data
// stream's position and the RNG state saved there; run() then continues to the same final
// state an uninterrupted run reaches (bit for bit on the CPU with a fixed thread count).
#include <c10/core/Device.h>

#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "data/packed_stream.h"
#include "data/tokenizer.h"
#include "models/model.h"
#include "train/settings.h"

namespace dreamer::train {

struct StepMetrics {
  int64_t step = 0;    // optimizer steps done
  int64_t tokens = 0;  // tokens trained on so far
  double loss = 0;     // mean cross-entropy (nats/token) over the logged steps' micro-batches
  double aux_loss = 0;
  double lr = 0;
  double grad_norm = 0;  // before clipping, of the last logged step
  double tokens_per_s = 0;
  double memory_bytes = 0;
  std::optional<double> mfu;  // when the device's peak is known
  double elapsed_s = 0;       // training time of this process (resumed runs restart it)
};

struct CheckpointInfo {
  std::string name;  // "step-000120"
  std::string dir;
  int64_t step = 0, tokens = 0;
};

struct TrainerOptions {
  int64_t micro_batch = 8;  // sequences per forward (workload.batch)
  std::string run_dir;      // checkpoints go to run_dir/step-NNNNNN/
  std::set<int64_t> checkpoint_steps;  // the last step is always added
  double train_flops_per_token = 0;    // for MFU (models/cost.h); 0 = no MFU
  std::optional<int64_t> stop_after_step;  // stop early without a final checkpoint (tests: a kill)
  bool progress = true;                    // progress bar on a terminal, plain lines otherwise
  std::string label;                       // printed before progress lines
};

struct TrainerHooks {
  std::function<void(const StepMetrics&)> on_log;
  // After a checkpoint is written, before training continues (evaluation goes here). The RNG
  // state is restored afterwards, so what the hook draws never changes the training run.
  std::function<void(const CheckpointInfo&)> on_checkpoint;
};

class Trainer {
 public:
  Trainer(models::LanguageModelPtr model, std::shared_ptr<const data::Tokenizer> tokenizer,
          data::PackedStream stream, TrainSettings settings, TrainerOptions options);
  ~Trainer();

  int64_t total_steps() const { return total_steps_; }
  int64_t tokens_per_step() const { return tokens_per_step_; }
  int64_t step() const { return step_; }
  const c10::Device& device() const { return device_; }
  models::LanguageModel& model() { return *model_; }

  // Loads a checkpoint written by this trainer (same model config and settings).
  void resume_from(const std::string& checkpoint_dir);
  // Trains until total_steps() (or options.stop_after_step). Returns the last metrics.
  StepMetrics run(const TrainerHooks& hooks = {});

 private:
  struct Impl;
  CheckpointInfo write_checkpoint();

  models::LanguageModelPtr model_;
  std::shared_ptr<const data::Tokenizer> tokenizer_;
  TrainSettings settings_;
  TrainerOptions options_;
  c10::Device device_;
  int64_t tokens_per_step_ = 0, total_steps_ = 0, step_ = 0;
  std::unique_ptr<Impl> impl_;
};

struct TrainingLoss {
  torch::Tensor cross_entropy;  // mean over the batch's target tokens, float32
  torch::Tensor aux;            // the model's auxiliary loss, float32 (zero if none)
};
// One training forward: `tokens` [B, T+1] on the model's device, inputs tokens[:, :-1],
// targets tokens[:, 1:], under bf16 autocast when `bf16` (CUDA only).
TrainingLoss training_loss(models::LanguageModel& model, const torch::Tensor& tokens, bool bf16);

// The newest complete checkpoint directory under run_dir (highest step), if any.
std::optional<std::string> latest_checkpoint(const std::string& run_dir);
std::string checkpoint_name(int64_t step);

}  // namespace dreamer::train
