#include "eval/loglikelihood.h"

#include <algorithm>

#include "util/errors.h"

namespace dreamer::eval {

std::vector<LoglikelihoodResult> score_tokens(models::LanguageModel& model,
                                              const std::vector<TokenRequest>& requests,
                                              const ScoringOptions& options) {
  torch::NoGradGuard no_grad;
  std::vector<std::vector<int64_t>> inputs;
  std::vector<size_t> lengths;
  for (const auto& r : requests) {
    if (r.context.empty() || r.continuation.empty())
      throw std::invalid_argument("score_tokens: empty context or continuation");
    std::vector<int64_t> input = r.context;
    input.insert(input.end(), r.continuation.begin(), r.continuation.end() - 1);
    // lm-eval: (context + continuation)[-(max_length + 1):][:-1], the left truncated away.
    if (options.max_length > 0 && static_cast<int64_t>(input.size()) > options.max_length) {
      if (static_cast<int64_t>(r.continuation.size()) > options.max_length)
        throw InputError("--max-length", "a continuation of " +
                                             std::to_string(r.continuation.size()) +
                                             " tokens does not fit in max length " +
                                             std::to_string(options.max_length));
      input.erase(input.begin(), input.end() - options.max_length);
    }
    lengths.push_back(input.size());
    inputs.push_back(std::move(input));
  }
  models::ForwardOptions forward;
  forward.recurrences = options.recurrences;
  forward.record_trace = static_cast<bool>(options.on_trace);

  std::vector<LoglikelihoodResult> results(requests.size());
  const torch::Device device = model_device(model);
  const auto on_device = torch::TensorOptions().dtype(torch::kLong).device(device);
  for (const auto& batch : make_batches(lengths, options)) {
    const int64_t b = static_cast<int64_t>(batch.size());
    std::vector<const std::vector<int64_t>*> rows;
    for (size_t i : batch) rows.push_back(&inputs[i]);
    auto out = model.forward(stack_rows(rows, options.vocab_size).to(device), nullptr, forward);
    const int64_t t = out.logits.size(1), vocab = out.logits.size(2);
    // Row j's last n_j real inputs predict its continuation: their flat indices into [b * t],
    // the targets and the row each belongs to. Pads (after position L_j) are never read.
    std::vector<int64_t> scored, targets, owner, real(static_cast<size_t>(b * t), 0);
    for (int64_t j = 0; j < b; ++j) {
      const auto& cont = requests[batch[j]].continuation;
      const int64_t len = static_cast<int64_t>(inputs[batch[j]].size());
      const int64_t n = static_cast<int64_t>(cont.size());
      for (int64_t i = 0; i < n; ++i) {
        scored.push_back(j * t + len - n + i);
        targets.push_back(cont[i]);
        owner.push_back(j);
      }
      std::fill(real.begin() + j * t, real.begin() + j * t + len, 1);
      results[batch[j]].n_tokens = n;
    }
    if (options.on_trace)
      options.on_trace(select_tokens(out.trace, torch::tensor(real).to(device).ne(0)));
    // Reduced on the device: only b sums and b miss counts come back to the host. Float64
    // log-softmax over the scored rows, a bounded number of rows at a time.
    const auto logits = out.logits.reshape({b * t, vocab});
    const auto index = torch::tensor(scored).to(on_device);
    const auto target = torch::tensor(targets).to(on_device);
    const auto row = torch::tensor(owner).to(on_device);
    auto sums = torch::zeros({b}, on_device.dtype(torch::kFloat64));
    auto misses = torch::zeros({b}, on_device);
    constexpr int64_t kRowsPerChunk = 1024;
    for (int64_t start = 0; start < index.size(0); start += kRowsPerChunk) {
      const int64_t n = std::min(kRowsPerChunk, index.size(0) - start);
      const auto tgt = target.narrow(0, start, n), own = row.narrow(0, start, n);
      const auto lp =
          torch::log_softmax(logits.index_select(0, index.narrow(0, start, n)).to(torch::kFloat64),
                             -1);  // [n, V]
      sums.index_add_(0, own, lp.gather(1, tgt.unsqueeze(1)).squeeze(1));
      misses.index_add_(0, own, lp.argmax(1).ne(tgt).to(torch::kLong));
    }
    const auto sums_cpu = sums.cpu(), misses_cpu = misses.cpu();
    for (int64_t j = 0; j < b; ++j) {
      LoglikelihoodResult& r = results[batch[j]];
      r.logprob = sums_cpu[j].item<double>();
      r.is_greedy = misses_cpu[j].item<int64_t>() == 0;
    }
  }
  return results;
}

TokenRequest encode_pair(const data::Tokenizer& tokenizer, std::string context,
                         std::string continuation) {
  const size_t kept =
      context.find_last_not_of(' ') == std::string::npos ? 0 : context.find_last_not_of(' ') + 1;
  continuation = context.substr(kept) + continuation;
  context.resize(kept);
  TokenRequest r;
  if (context.empty()) {
    r.context = {tokenizer.eos_id()};
    r.continuation = tokenizer.encode(continuation);
    return r;
  }
  auto whole = tokenizer.encode(context + continuation);
  r.context = tokenizer.encode(context);
  const size_t n_context = std::min(r.context.size(), whole.size());
  r.continuation.assign(whole.begin() + n_context, whole.end());
  return r;
}

std::vector<TokenRequest> rolling_windows(const std::vector<int64_t>& tokens, int64_t prefix_token,
                                          int64_t max_length) {
  std::vector<TokenRequest> windows;
  if (tokens.empty()) return windows;
  const int64_t n = static_cast<int64_t>(tokens.size());
  const int64_t first = std::min(max_length, n);
  windows.push_back({{prefix_token}, {tokens.begin(), tokens.begin() + first}});
  for (int64_t predicted = first; predicted < n;) {
    const int64_t len = std::min(n - predicted, max_length);
    const int64_t end = predicted + len;
    // Inputs are tokens[end - max_length - 1, end - 1): as many preceding tokens as fit.
    const int64_t context_start = std::max<int64_t>(0, end - max_length - 1);
    windows.push_back({{tokens.begin() + context_start, tokens.begin() + predicted},
                       {tokens.begin() + predicted, tokens.begin() + end}});
    predicted = end;
  }
  return windows;
}

}  // namespace dreamer::eval
