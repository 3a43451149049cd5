#include "eval/loglikelihood.h"

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
  for (const auto& batch : group_by_length(lengths, options.batch_size)) {
    std::vector<const std::vector<int64_t>*> rows;
    for (size_t i : batch) rows.push_back(&inputs[i]);
    auto out = model.forward(stack_rows(rows, options.vocab_size).to(model_device(model)), nullptr,
                             forward);
    if (options.on_trace) options.on_trace(out.trace);
    auto logprobs =
        torch::log_softmax(out.logits.to(torch::kCPU, torch::kFloat64), -1);  // [b, T, V]
    const int64_t t = logprobs.size(1);
    for (size_t j = 0; j < batch.size(); ++j) {
      const auto& cont = requests[batch[j]].continuation;
      const int64_t n = static_cast<int64_t>(cont.size());
      auto rows_lp = logprobs[static_cast<int64_t>(j)].narrow(0, t - n, n);  // [n, V]
      auto target = torch::tensor(cont, torch::kLong);
      auto picked = rows_lp.gather(1, target.unsqueeze(1)).squeeze(1);
      LoglikelihoodResult& r = results[batch[j]];
      r.logprob = picked.sum().item<double>();
      r.is_greedy = rows_lp.argmax(1).eq(target).all().item<bool>();
      r.n_tokens = n;
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
