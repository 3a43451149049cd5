#pragma once
// What `dreamer demo` trains on and under, for the command and its test (the command trains a
// tiny DR+DA+EA through train::Trainer::train_step on these batches, with these settings).
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <random>

#include "train/settings.h"

namespace dreamer::train {

// `steps` optimizer steps of one micro-batch of `batch` sequences of `seq` tokens: AdamW at
// 3e-3 (betas 0.9 and 0.95, eps 1e-8, no weight decay), a constant rate without warmup, the
// gradient clipped at norm 1, fp32 on the CPU.
TrainSettings demo_settings(int64_t steps, int64_t batch, int64_t seq);

// [batch, seq+1] byte tokens: each row consecutive "prompt answer\n" examples of multi-step
// modular arithmetic with `task_steps` steps (data/synthetic.h), cut at seq+1 tokens.
at::Tensor demo_batch(std::mt19937_64& rng, int64_t batch, int64_t seq, int task_steps);

}  // namespace dreamer::train
