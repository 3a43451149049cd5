#include "eval/sampling.h"

#include "util/errors.h"

namespace dreamer::eval {

uint64_t sample_stream_seed(int64_t seed, int64_t doc_index, int64_t repeat) {
  auto mix = [](uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  };
  return mix(mix(mix(static_cast<uint64_t>(seed)) ^ static_cast<uint64_t>(doc_index)) ^
             static_cast<uint64_t>(repeat));
}

torch::Tensor sampling_distribution(const torch::Tensor& logits, const SamplingOptions& options) {
  require(options.temperature > 0, "temperature", "must be > 0 when sampling");
  auto scaled = logits.to(torch::kCPU, torch::kDouble) / options.temperature;
  const int64_t vocab = scaled.size(-1);
  // Hugging Face order: temperature, then top-k, then top-p on the renormalised softmax.
  if (options.top_k > 0 && options.top_k < vocab) {
    const auto kth = std::get<0>(scaled.topk(options.top_k)).min();
    scaled = scaled.masked_fill(scaled < kth, -std::numeric_limits<double>::infinity());
  }
  auto probs = torch::softmax(scaled, -1);
  if (options.top_p < 1.0) {
    // Keep the most likely tokens until their mass reaches top_p (the token that crosses it
    // included, at least one token), as HF's TopPLogitsWarper.
    const auto [sorted, order] = probs.sort(-1, /*descending=*/true);
    const auto before = sorted.cumsum(-1) - sorted;  // mass of the tokens ranked above
    auto keep_sorted = before < options.top_p;
    keep_sorted.index_put_({0}, true);
    auto keep = torch::zeros_like(keep_sorted).scatter(-1, order, keep_sorted);
    probs = probs * keep.to(torch::kDouble);
    probs = probs / probs.sum();
  }
  return probs;
}

torch::Tensor sample_tokens(const torch::Tensor& logits, const SamplingOptions& options,
                            const std::vector<std::mt19937_64*>& rows) {
  require(logits.dim() == 2 && logits.size(0) == static_cast<int64_t>(rows.size()), "sampling",
          "expected logits [rows, vocab] with one generator per row");
  const auto cpu = logits.detach().to(torch::kCPU, torch::kDouble);
  std::vector<int64_t> ids(rows.size());
  for (size_t j = 0; j < rows.size(); ++j) {
    if (!rows[j]) continue;  // a row that does not sample now: its id is ignored
    const auto probs = sampling_distribution(cpu[static_cast<int64_t>(j)], options).contiguous();
    const double* p = probs.data_ptr<double>();
    const int64_t vocab = probs.size(0);
    // Inverse CDF with u in [0, 1) from the top 53 bits; a token of probability 0 is never hit.
    const double u = static_cast<double>((*rows[j])() >> 11) * 0x1.0p-53;
    double cumulative = 0;
    int64_t pick = -1;
    for (int64_t v = 0; v < vocab; ++v) {
      if (p[v] <= 0) continue;
      pick = v;  // the last token with mass, should rounding leave u above the total
      cumulative += p[v];
      if (u < cumulative) break;
    }
    require(pick >= 0, "sampling", "the sampling distribution has no mass (NaN logits?)");
    ids[j] = pick;
  }
  return torch::tensor(ids, torch::kLong).to(logits.device());
}

}  // namespace dreamer::eval
