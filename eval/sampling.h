#pragma once
// One sampling step of generation: logits of the last position -> next token ids, with
// temperature, top-k and top-p (nucleus) as Hugging Face's generate applies them (lm-eval's
// do_sample). Each row draws from its own seeded stream, so a (document, repeat) gets the same
// tokens whatever batch it lands in, on CPU and CUDA and under both LibTorch versions.
#include <torch/torch.h>

#include <cstdint>
#include <random>
#include <vector>

namespace dreamer::eval {

struct SamplingOptions {
  bool do_sample = false;  // false: greedy (argmax), the default
  double temperature = 1.0;
  double top_p = 1.0;
  int64_t top_k = 0;  // 0: no cut
};

// The seed of one response's stream: `seed` mixed with the document's position and the repeat
// (splitmix64), so streams of neighbouring documents do not overlap.
uint64_t sample_stream_seed(int64_t seed, int64_t doc_index, int64_t repeat);

// Next token of each row of `logits` [b, vocab], drawn with rows[j]'s generator; returns [b]
// int64 on logits' device. The draw is one uniform double per row from std::mt19937_64, whose
// sequence the C++ standard fixes (torch::multinomial's is not fixed across versions).
// A null generator skips its row (no draw; its id is 0 and meant to be ignored).
torch::Tensor sample_tokens(const torch::Tensor& logits, const SamplingOptions& options,
                            const std::vector<std::mt19937_64*>& rows);

// The distribution sample_tokens draws from for one row of logits [vocab] (float64, CPU):
// softmax(logits / temperature) with tokens outside the top-k and outside the smallest set
// whose probability reaches top_p set to 0, renormalised.
torch::Tensor sampling_distribution(const torch::Tensor& logits, const SamplingOptions& options);

}  // namespace dreamer::eval
