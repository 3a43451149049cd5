#pragma once
// The trainer: optimizer steps over a packed data stream, with the schedule, clipping,
// accumulation, autocast, the models' auxiliary losses and balancing-bias updates, metrics every
// `log_every` steps, and full checkpoints (train/train_state.h) at chosen steps and at the end.
//
// Resuming: resume_from(dir) restores the weights, the optimizer moments, the step, the data
// stream's position, the RNG state, the training time and a partly filled logging window saved
// there; run() then continues to the same final state and the same logged rows an
// uninterrupted run reaches (bit for bit on the CPU with a fixed thread count).
//
// run() stops early, with a checkpoint to resume from, at `stop_after_step` (paused) or at the
// first step boundary after SIGINT/SIGTERM (interrupted, train/run_control.h); it stops without
// taking the step when the loss or the gradient norm is not finite or the norm passes
// `divergence_grad_norm` (diverged). Checkpoint files are fsynced before the directory is
// renamed into place (train/durable_io.h); a failed write is an InputError naming the file.
//
// train_step() is run()'s step alone, over batches the caller gives: the demo, the plan's
// calibration and bench-step train through it, so there is one training step in the tree.
#include <c10/core/Device.h>

#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "data/packed_stream.h"
#include "data/tokenizer.h"
#include "models/model.h"
#include "train/settings.h"

namespace dreamer::train {

class ProcessGroup;  // train/distributed.h

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
  double elapsed_s = 0;       // training time of the run so far, across resumes (no evaluation)
};

struct CheckpointInfo {
  std::string name;  // "step-000120"
  std::string dir;
  int64_t step = 0, tokens = 0;
  bool planned = true;  // one of checkpoint_steps or the last step; false: written to pause or stop
};

enum class StopReason { kFinished, kPaused, kInterrupted, kDiverged };

struct TrainerOptions {
  int64_t micro_batch = 8;                 // sequences per forward (workload.batch)
  std::string run_dir;                     // checkpoints go to run_dir/step-NNNNNN/
  std::set<int64_t> checkpoint_steps;      // the last step is always added
  double train_flops_per_token = 0;        // for MFU (models/cost.h); 0 = no MFU
  std::optional<int64_t> stop_after_step;  // pause at this step (with a checkpoint to resume from)
  bool progress = true;                    // progress bar on a terminal, plain lines otherwise
  std::string label;                       // printed before progress lines
  // Which start of the run the checkpoints belong to (recorded in trainer_state.json; the runner
  // uses it to tell a forced restart's checkpoints from the replaced run's).
  std::string start_id;
  double divergence_grad_norm = 1e6;  // a gradient norm above this (before clipping) diverged
  // The workload's activation checkpointing (models/blocks/checkpoint.h), on while a step runs.
  bool activation_checkpointing = false;
  // Data-parallel training (train/distributed.h): micro_batch stays the global batch, each rank
  // trains on its rows, gradients and buffer changes are reduced over the ranks, and only rank
  // 0 writes checkpoints (rank 0's hooks run; give the other ranks none). nullptr: one process.
  std::shared_ptr<ProcessGroup> group;
};

// One optimizer step (Trainer::train_step).
struct StepResult {
  bool applied = false;   // false: the step diverged (stop_detail() says why) and was not taken
  double lr = 0;          // the schedule's rate it was taken at
  double loss = 0;        // mean cross-entropy (nats/token) over its micro-batches (and ranks)
  double grad_norm = 0;   // before clipping
  torch::Tensor ce, aux;  // loss and the auxiliary loss: float64 scalars on the device
};

struct TrainerHooks {
  std::function<void(const StepMetrics&)> on_log;
  // After a checkpoint is written, before training continues (evaluation goes here). The RNG
  // state is restored afterwards, so what the hook draws never changes the training run.
  // Unplanned checkpoints (pause, stop) call it too, with info.planned false.
  std::function<void(const CheckpointInfo&)> on_checkpoint;
};

class Trainer {
 public:
  Trainer(models::LanguageModelPtr model, std::shared_ptr<const data::Tokenizer> tokenizer,
          data::PackedStream stream, TrainSettings settings, TrainerOptions options);
  // A trainer that steps only on batches its caller gives (train_step(): the demo, the plan's
  // calibration, bench-step): no data stream and no tokenizer, so run() and checkpoints are not
  // available. `seq_len` (tokens a row predicts) sizes tokens_per_step(), hence with
  // settings.tokens total_steps() and the schedule.
  Trainer(models::LanguageModelPtr model, int64_t seq_len, TrainSettings settings,
          TrainerOptions options);
  ~Trainer();

  int64_t total_steps() const { return total_steps_; }
  int64_t tokens_per_step() const { return tokens_per_step_; }
  int64_t step() const { return step_; }
  double train_seconds() const { return train_seconds_; }  // across resumes, evaluation excluded
  StopReason stop_reason() const { return stop_reason_; }
  const std::string& stop_detail() const { return stop_detail_; }  // why it diverged
  // Later checkpoints go here (the runner moves a forced restart's directory into place).
  void set_run_dir(const std::string& dir) { options_.run_dir = dir; }
  const c10::Device& device() const { return device_; }
  models::LanguageModel& model() { return *model_; }

  // Loads a checkpoint written by this trainer (same model config and settings).
  void resume_from(const std::string& checkpoint_dir);
  // Trains until total_steps(), a pause, a stop signal or divergence (stop_reason() says
  // which). Returns the last logged metrics.
  StepMetrics run(const TrainerHooks& hooks = {});
  // One optimizer step exactly as run() takes it, over `micro_batches` (settings.grad_accumulation
  // tensors of [micro_batch, T+1] tokens; with options.group every rank passes the whole batch
  // and trains on its rows): the schedule's rate at step(), the gradient of cross-entropy +
  // auxiliary loss averaged over the micro-batches, clipping, the divergence check, the
  // optimizer and the model's after-step update. Takes step() one further; a diverged step is
  // not taken (applied false, stop_reason() kDiverged). No logging, timing or checkpoints.
  StepResult train_step(const std::vector<torch::Tensor>& micro_batches);

 private:
  struct Impl;
  Trainer(models::LanguageModelPtr model, std::shared_ptr<const data::Tokenizer> tokenizer,
          std::optional<data::PackedStream> stream, int64_t seq_len, TrainSettings settings,
          TrainerOptions options);
  CheckpointInfo write_checkpoint(bool planned);
  bool autocast_bf16() const;  // whether steps run under bf16 autocast (an error if impossible)

  models::LanguageModelPtr model_;
  std::shared_ptr<const data::Tokenizer> tokenizer_;
  TrainSettings settings_;
  TrainerOptions options_;
  c10::Device device_;
  int64_t tokens_per_step_ = 0, total_steps_ = 0, step_ = 0;
  double train_seconds_ = 0;
  StopReason stop_reason_ = StopReason::kFinished;
  std::string stop_detail_;
  std::unique_ptr<Impl> impl_;
};

struct TrainingLoss {
  torch::Tensor cross_entropy;  // mean over the batch's target tokens, float32
  torch::Tensor aux;            // the model's auxiliary loss, float32 (zero if none)
};
// One training forward: `tokens` [B, T+1] on the model's device, inputs tokens[:, :-1],
// targets tokens[:, 1:], under bf16 autocast when `bf16` (CUDA only). The cross-entropy runs
// the LM head in chunks of `chunk_rows` tokens (0: about 256 MiB of float32 logits per chunk),
// so [B, T, V] logits are never held.
TrainingLoss training_loss(models::LanguageModel& model, const torch::Tensor& tokens, bool bf16,
                           int64_t chunk_rows = 0);

// Sets the CPU generator to the state a checkpoint's rng.pt saved, and back on destruction: a
// checkpoint evaluated again on resume sees the state its first evaluation saw.
class RngScope {
 public:
  explicit RngScope(const std::string& rng_file);
  ~RngScope();
  RngScope(const RngScope&) = delete;
  RngScope& operator=(const RngScope&) = delete;

 private:
  torch::Tensor saved_;
};

// The newest complete checkpoint directory under run_dir (highest step), if any.
std::optional<std::string> latest_checkpoint(const std::string& run_dir);
std::string checkpoint_name(int64_t step);
// The start_id a checkpoint's trainer_state.json records ("" when it records none).
std::string checkpoint_start_id(const std::string& checkpoint_dir);

}  // namespace dreamer::train
