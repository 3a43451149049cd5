#pragma once
// Batching without padding: the model interface has no attention mask, so sequences are only
// batched with others of exactly the same token length. Pad tokens would be attended to.
#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "models/model.h"

namespace dreamer::eval {

// Receives the routing trace of every forward call the scorer makes (for diversity metrics).
using TraceSink = std::function<void(const models::RoutingTrace&)>;

struct ScoringOptions {
  int64_t batch_size = 8;
  int64_t recurrences = 0;  // ForwardOptions.recurrences (0: the model's default)
  TraceSink on_trace;       // optional
  int64_t vocab_size = 0;   // if set, token ids at or above it are an input error, not a crash
  int64_t max_length = 0;   // > 0: log-likelihood inputs keep their last max_length tokens
};

// The device the model's parameters live on (token batches are moved there; results come back
// to the CPU for reading).
torch::Device model_device(const models::LanguageModel& model);

// Indices grouped by equal length, in chunks of at most batch_size, longest first.
std::vector<std::vector<size_t>> group_by_length(const std::vector<size_t>& lengths,
                                                 int64_t batch_size);

// [B, T] int64 tensor of the given token rows (all the same length). With vocab_size > 0, an id
// outside [0, vocab_size) throws InputError (a tokenizer that does not match the checkpoint).
torch::Tensor stack_rows(const std::vector<const std::vector<int64_t>*>& rows,
                         int64_t vocab_size = 0);

// The trace restricted to the tokens where keep[i] is true (N = keep.size() rows per record).
models::RoutingTrace select_tokens(const models::RoutingTrace& trace, const torch::Tensor& keep);

}  // namespace dreamer::eval
