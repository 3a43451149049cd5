#pragma once
// Batching sequences of different lengths without attention masks. Every family is causal, so
// a position never sees a later one: right padding is exact for log-likelihoods (the pads come
// after every scored position), and generation starts each row at its own length inside one
// lockstep batch (eval/decoding.cpp). Batches are runs of neighbours in length order, so that
// padding and staggering stay small.
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
  // false: batch only sequences of exactly equal length (the scheme before mixed lengths; kept
  // so that bench-eval can measure both).
  bool mixed_lengths = true;
};

// The device the model's parameters live on (token batches are moved there; results come back
// to the CPU for reading).
torch::Device model_device(const models::LanguageModel& model);

// Indices grouped by equal length, in chunks of at most batch_size, longest first.
std::vector<std::vector<size_t>> group_by_length(const std::vector<size_t>& lengths,
                                                 int64_t batch_size);
// Indices in order of decreasing length (ties by index), cut into chunks of batch_size.
std::vector<std::vector<size_t>> group_by_similar_length(const std::vector<size_t>& lengths,
                                                         int64_t batch_size);
// Generation batches (mixed lengths) that minimise the lockstep steps: a batch of prompts L_max
// >= ... >= L_min runs (L_max - L_min) steps feeding the longer rows' prompt tails, then up to
// `budget` (max_new_tokens) steps, and the steps of a GPU batch cost about the same at any
// batch size up to the cap. Contiguous runs in length order (longest first), at most
// batch_size each, chosen by dynamic programming over the cut points (n x batch_size); ties go
// to fewer batches. Never more steps than cutting the order into equal chunks.
std::vector<std::vector<size_t>> group_for_generation(const std::vector<size_t>& lengths,
                                                      int64_t batch_size, int64_t budget);
// The lockstep steps those batches cost: the sum of (L_max - L_min + budget) over batches.
int64_t generation_steps(const std::vector<size_t>& lengths,
                         const std::vector<std::vector<size_t>>& batches, int64_t budget);

// group_by_similar_length, or group_by_length when options.mixed_lengths is off.
std::vector<std::vector<size_t>> make_batches(const std::vector<size_t>& lengths,
                                              const ScoringOptions& options);

// [B, T] int64 tensor of the first T tokens of the given rows, T = `columns` (-1: the longest
// row's length); shorter rows are right-padded with their own last token (any id would do:
// causality keeps it unseen). With
// vocab_size > 0, an id outside [0, vocab_size) throws InputError (a tokenizer that does not
// match the checkpoint).
torch::Tensor stack_rows(const std::vector<const std::vector<int64_t>*>& rows,
                         int64_t vocab_size = 0, int64_t columns = -1);

// The trace restricted to the tokens where keep[i] is true (N = keep.size() rows per record).
models::RoutingTrace select_tokens(const models::RoutingTrace& trace, const torch::Tensor& keep);

}  // namespace dreamer::eval
