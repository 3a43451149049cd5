#include "eval/decoding.h"

#include <algorithm>
#include <chrono>

#include "models/static_decode.h"
#include "util/errors.h"

namespace dreamer::eval {

bool cut_at_stop(std::string& text, const std::vector<std::string>& until) {
  size_t first = std::string::npos;
  for (const auto& stop : until)
    if (!stop.empty()) first = std::min(first, text.find(stop));
  if (first == std::string::npos) return false;
  text.resize(first);
  return true;
}

torch::Tensor select_next_tokens(const torch::Tensor& last_logits) {
  return last_logits.argmax(-1);
}

StopScanner::StopScanner(std::vector<std::string> until) : until_(std::move(until)) {
  for (const auto& stop : until_) longest_ = std::max(longest_, stop.size());
}

bool StopScanner::found(const std::string& text) {
  if (longest_ == 0) return false;
  // Only text that is new (or changed: a decoder may rewrite its tail, such as an incomplete
  // UTF-8 sequence) can hold a first occurrence; the unchanged prefix was searched before.
  size_t same =
      std::mismatch(text.begin(), text.begin() + std::min(text.size(), seen_.size()), seen_.begin())
          .first -
      text.begin();
  const size_t from = same >= longest_ ? same - longest_ + 1 : 0;
  seen_ = text;
  for (const auto& stop : until_)
    if (!stop.empty() && text.find(stop, from) != std::string::npos) return true;
  return false;
}

std::vector<std::string> greedy_generate(models::LanguageModel& model,
                                         const data::Tokenizer& tokenizer,
                                         const std::vector<std::string>& prompts,
                                         const GenerationOptions& generation,
                                         const ScoringOptions& scoring) {
  std::vector<std::string> texts;
  for (auto& g : greedy_generate_detailed(model, tokenizer, prompts, generation, scoring))
    texts.push_back(std::move(g.text));
  return texts;
}

std::vector<Generation> greedy_generate_detailed(models::LanguageModel& model,
                                                 const data::Tokenizer& tokenizer,
                                                 const std::vector<std::string>& prompts,
                                                 const GenerationOptions& generation,
                                                 const ScoringOptions& scoring) {
  torch::NoGradGuard no_grad;
  std::vector<std::vector<int64_t>> encoded;
  std::vector<size_t> lengths;
  std::vector<Generation> outputs(prompts.size());
  int64_t keep = 0;
  if (generation.max_length > 0) {
    keep = generation.max_length - generation.max_new_tokens;
    if (keep < 1)
      throw InputError("--max-length", "max length " + std::to_string(generation.max_length) +
                                           " leaves no room for a prompt beside max_new_tokens " +
                                           std::to_string(generation.max_new_tokens));
  }
  for (size_t i = 0; i < prompts.size(); ++i) {
    encoded.push_back(tokenizer.encode(prompts[i]));
    auto& ids = encoded.back();
    if (keep > 0 && static_cast<int64_t>(ids.size()) > keep) {
      outputs[i].prompt_tokens_dropped = static_cast<int64_t>(ids.size()) - keep;
      ids.erase(ids.begin(), ids.end() - keep);
    }
    // An empty prompt starts from the end-of-text token, as lm-eval does.
    if (ids.empty()) ids.push_back(tokenizer.eos_id());
    lengths.push_back(ids.size());
  }
  std::vector<std::mt19937_64> streams;
  if (generation.sampling.do_sample) {
    require(generation.stream_seeds.size() == prompts.size(), "generation",
            "sampling needs one stream seed per prompt");
    for (const auto seed : generation.stream_seeds) streams.emplace_back(seed);
  }
  models::ForwardOptions options;
  options.recurrences = scoring.recurrences;
  options.record_trace = static_cast<bool>(scoring.on_trace);
  options.last_logits_only = true;  // only the last position chooses the next token
  GenerationTimings unused;
  GenerationTimings& timings = generation.timings ? *generation.timings : unused;
  using Clock = std::chrono::steady_clock;

  const torch::Device device = model_device(model);
  if (generation.max_new_tokens <= 0) {
    for (auto& g : outputs) g.hit_max_new_tokens = true;  // the budget allows nothing
    return outputs;
  }
  const auto batches = scoring.mixed_lengths ? group_for_generation(lengths, scoring.batch_size,
                                                                    generation.max_new_tokens)
                                             : make_batches(lengths, scoring);
  for (const auto& batch : batches) {
    // Rows start generating at their own length: all rows consume one token per step in
    // lockstep, row j its prompt token while step < L_j and its own last output after. Each
    // row's tokens thus sit at their true positions with no pads, so no mask is needed.
    const int64_t b = static_cast<int64_t>(batch.size());
    std::vector<const std::vector<int64_t>*> rows;
    int64_t shortest = 0, longest = 0;
    for (size_t i : batch) {
      rows.push_back(&encoded[i]);
      const auto len = static_cast<int64_t>(encoded[i].size());
      shortest = shortest == 0 ? len : std::min(shortest, len);
      longest = std::max(longest, len);
    }
    models::InferenceState state;
    state.capacity = longest + generation.max_new_tokens;  // the caches never reallocate
    ++timings.batches;
    timings.prefill_tokens += b * shortest;
    auto mark = Clock::now();
    bool prefilled = false;
    auto out =
        model.forward(stack_rows(rows, scoring.vocab_size, shortest).to(device), &state, options);
    if (scoring.on_trace) scoring.on_trace(out.trace);
    std::vector<std::vector<int64_t>> generated(b);
    std::vector<StopScanner> scanners(b, StopScanner(generation.until));
    std::vector<bool> done(b, false);
    int64_t active = b;
    std::vector<std::mt19937_64*> batch_streams(b, nullptr);
    models::StaticDecoder decoder(
        model, state, options,
        models::choose_decode_mode(model, device, options, generation.cuda_graphs));
    for (int64_t consumed = shortest;; ++consumed) {
      const auto last = out.logits.select(1, out.logits.size(1) - 1);
      torch::Tensor next;
      if (generation.sampling.do_sample) {
        // Only rows that generate now draw from their stream, so a document's draws do not
        // depend on the batch it shares (prompt rows and finished rows draw nothing).
        for (int64_t j = 0; j < b; ++j)
          batch_streams[j] = consumed < static_cast<int64_t>(rows[j]->size()) || done[j]
                                 ? nullptr
                                 : &streams[batch[j]];
        next = sample_tokens(last, generation.sampling, batch_streams);
      } else {
        next = select_next_tokens(last);  // [b]
      }
      const auto next_cpu = next.cpu();  // waits for the device
      const auto now = Clock::now();
      (prefilled ? timings.step_s : timings.prefill_s) +=
          std::chrono::duration<double>(now - mark).count();
      mark = now;
      prefilled = true;
      auto next_acc = next_cpu.accessor<int64_t, 1>();
      std::vector<int64_t> feed(b);
      for (int64_t j = 0; j < b; ++j) {
        const auto& prompt = *rows[j];
        if (consumed < static_cast<int64_t>(prompt.size())) {
          feed[j] = prompt[consumed];  // still reading its prompt
          continue;
        }
        feed[j] = next_acc[j];
        if (done[j]) continue;
        const int64_t id = next_acc[j];
        if (generation.stop_at_eos && id == tokenizer.eos_id()) {
          done[j] = true;
        } else {
          generated[j].push_back(id);
          ++timings.generated_tokens;
          if (scanners[j].found(tokenizer.decode(generated[j]))) done[j] = true;
        }
        if (!done[j] && static_cast<int64_t>(generated[j].size()) == generation.max_new_tokens) {
          outputs[batch[j]].hit_max_new_tokens = true;
          done[j] = true;
        }
        if (done[j]) --active;
      }
      if (active == 0) break;
      // Finished rows keep decoding (the batch moves in lockstep) but their tokens are ignored,
      // and left out of the routing statistics.
      ++timings.steps;
      timings.row_steps += b;
      if (consumed < longest) ++timings.prompt_steps;  // some row feeds a prompt token
      out = decoder.step(torch::tensor(feed).unsqueeze(1).to(device));
      if (scoring.on_trace) {
        auto keep = torch::tensor(std::vector<int64_t>(done.begin(), done.end())).eq(0).to(device);
        scoring.on_trace(select_tokens(out.trace, keep));
      }
    }
    for (int64_t j = 0; j < b; ++j) {
      auto& g = outputs[batch[j]];
      g.text = tokenizer.decode(generated[j]);
      cut_at_stop(g.text, generation.until);
      g.new_tokens = static_cast<int64_t>(generated[j].size());
    }
  }
  return outputs;
}

}  // namespace dreamer::eval
