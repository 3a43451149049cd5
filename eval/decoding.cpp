#include "eval/decoding.h"

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

  const torch::Device device = model_device(model);
  for (const auto& batch : group_by_length(lengths, scoring.batch_size)) {
    const int64_t b = static_cast<int64_t>(batch.size());
    std::vector<const std::vector<int64_t>*> rows;
    for (size_t i : batch) rows.push_back(&encoded[i]);
    models::InferenceState state;
    auto out = model.forward(stack_rows(rows, scoring.vocab_size).to(device), &state, options);
    if (scoring.on_trace) scoring.on_trace(out.trace);
    std::vector<std::vector<int64_t>> generated(b);
    std::vector<bool> done(b, false);
    int64_t active = b;
    std::vector<std::mt19937_64*> batch_streams;
    if (generation.sampling.do_sample)
      for (size_t i : batch) batch_streams.push_back(&streams[i]);
    for (int64_t step = 0; step < generation.max_new_tokens && active > 0; ++step) {
      const auto last = out.logits.select(1, out.logits.size(1) - 1);
      auto next = generation.sampling.do_sample
                      ? sample_tokens(last, generation.sampling, batch_streams)
                      : last.argmax(-1);  // [b]
      const auto next_cpu = next.cpu();
      auto next_acc = next_cpu.accessor<int64_t, 1>();
      for (int64_t j = 0; j < b; ++j) {
        if (done[j]) continue;
        const int64_t id = next_acc[j];
        if (generation.stop_at_eos && id == tokenizer.eos_id()) {
          done[j] = true;
        } else {
          generated[j].push_back(id);
          std::string text = tokenizer.decode(generated[j]);
          if (cut_at_stop(text, generation.until)) done[j] = true;
        }
        if (done[j]) --active;
      }
      if (active == 0 || step + 1 == generation.max_new_tokens) break;
      // Finished rows keep decoding (the batch moves in lockstep) but their tokens are ignored,
      // and left out of the routing statistics.
      out = model.forward(next.unsqueeze(1), &state, options);
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
      g.hit_max_new_tokens = !done[j];
    }
  }
  return outputs;
}

}  // namespace dreamer::eval
