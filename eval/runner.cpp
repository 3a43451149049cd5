#include "eval/runner.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "eval/batching.h"
#include "eval/decoding.h"
#include "eval/loglikelihood.h"
#include "eval/metrics.h"
#include "eval/prompt.h"

namespace dreamer::eval {

namespace {

Score accuracy(int64_t depth, const std::string& metric, const std::vector<double>& per_doc) {
  return {depth, metric, mean(per_doc), static_cast<int64_t>(per_doc.size()), mean_stderr(per_doc)};
}

// generate_until: greedy outputs, every filter's extraction scored by exact match.
void run_generate(models::LanguageModel& model, const data::Tokenizer& tokenizer,
                  const TaskSpec& task, const TaskData& data, const PromptBuilder& prompts,
                  int64_t depth, const ScoringOptions& scoring, bool keep_samples,
                  TaskResult& result) {
  std::vector<std::string> contexts;
  for (const auto& doc : data.docs) contexts.push_back(prompts.context(doc));
  GenerationOptions generation;
  generation.until = task.generation.until;
  generation.max_new_tokens = task.generation.max_new_tokens;
  const auto outputs = greedy_generate(model, tokenizer, contexts, generation, scoring);

  std::vector<Filter> filters;
  for (const auto& f : task.filters) filters.emplace_back(f);
  const AnswerMatcher matcher(task.match);
  std::vector<std::vector<double>> correct(filters.size());
  for (size_t i = 0; i < data.docs.size(); ++i) {
    const auto reference = prompts.reference(data.docs[i]);
    nlohmann::json details = {{"reference", reference}};
    for (size_t f = 0; f < filters.size(); ++f) {
      const auto extracted = filters[f].apply(outputs[i]);
      const bool ok = matcher.match(extracted, reference);
      correct[f].push_back(ok ? 1.0 : 0.0);
      details["filters"][filters[f].spec().name] = {{"extracted", extracted}, {"exact_match", ok}};
    }
    if (keep_samples)
      result.samples.push_back(
          {depth, static_cast<int64_t>(i), contexts[i], outputs[i], std::move(details)});
  }
  for (size_t f = 0; f < filters.size(); ++f)
    result.scores.push_back(accuracy(depth, "exact_match," + filters[f].spec().name, correct[f]));
}

// multiple_choice: log-likelihood of " " + choice after the context; acc picks the highest,
// acc_norm the highest per byte of the choice text (lm-eval).
void run_multiple_choice(models::LanguageModel& model, const data::Tokenizer& tokenizer,
                         const TaskSpec& task, const TaskData& data, const PromptBuilder& prompts,
                         int64_t depth, const ScoringOptions& scoring, bool keep_samples,
                         TaskResult& result) {
  std::vector<TokenRequest> requests;
  std::vector<std::vector<std::string>> choices;
  std::vector<std::string> contexts;
  for (const auto& doc : data.docs) {
    contexts.push_back(prompts.context(doc));
    choices.push_back(prompts.choices(doc));
    for (const auto& c : choices.back())
      requests.push_back(encode_pair(tokenizer, contexts.back(), task.target_delimiter + c));
  }
  const auto scored = score_tokens(model, requests, scoring);
  std::vector<double> acc, acc_norm;
  size_t next = 0;
  for (size_t i = 0; i < data.docs.size(); ++i) {
    const int64_t gold = prompts.gold(data.docs[i]);
    std::vector<double> ll, ll_norm;
    for (const auto& c : choices[i]) {
      ll.push_back(scored[next++].logprob);
      ll_norm.push_back(ll.back() / static_cast<double>(std::max<size_t>(1, c.size())));
    }
    const auto best = std::max_element(ll.begin(), ll.end()) - ll.begin();
    const auto best_norm = std::max_element(ll_norm.begin(), ll_norm.end()) - ll_norm.begin();
    acc.push_back(best == gold ? 1.0 : 0.0);
    acc_norm.push_back(best_norm == gold ? 1.0 : 0.0);
    if (keep_samples)
      result.samples.push_back({depth,
                                static_cast<int64_t>(i),
                                contexts[i],
                                choices[i][best],
                                {{"gold", gold},
                                 {"choices", choices[i]},
                                 {"loglikelihoods", ll},
                                 {"acc", best == gold},
                                 {"acc_norm", best_norm == gold}}});
  }
  result.scores.push_back(accuracy(depth, "acc", acc));
  result.scores.push_back(accuracy(depth, "acc_norm", acc_norm));
}

// loglikelihood_rolling: whole-document log-likelihood over disjoint windows.
void run_rolling(models::LanguageModel& model, const data::Tokenizer& tokenizer,
                 const TaskSpec& task, const TaskData& data, const PromptBuilder& prompts,
                 int64_t depth, const ScoringOptions& scoring, bool keep_samples,
                 TaskResult& result) {
  std::vector<TokenRequest> windows;
  std::vector<size_t> owner;
  double bytes = 0, words = 0, tokens = 0;
  std::vector<std::string> texts;
  for (size_t i = 0; i < data.docs.size(); ++i) {
    texts.push_back(prompts.context(data.docs[i]));
    const auto ids = tokenizer.encode(texts.back());
    tokens += static_cast<double>(ids.size());
    bytes += static_cast<double>(texts.back().size());
    // Words as lm-eval counts them: whitespace-separated pieces.
    bool in_word = false;
    for (unsigned char c : texts.back()) {
      const bool space = std::isspace(c);
      if (!space && !in_word) ++words;
      in_word = !space;
    }
    for (auto& w : rolling_windows(ids, tokenizer.eos_id(), task.max_length)) {
      windows.push_back(std::move(w));
      owner.push_back(i);
    }
  }
  const auto scored = score_tokens(model, windows, scoring);
  std::vector<double> doc_ll(data.docs.size(), 0.0);
  for (size_t w = 0; w < scored.size(); ++w) doc_ll[owner[w]] += scored[w].logprob;
  double ll = 0;
  for (double v : doc_ll) ll += v;
  const int64_t n = static_cast<int64_t>(data.docs.size());
  result.scores.push_back({depth, "perplexity", std::exp(-ll / tokens), n, std::nullopt});
  result.scores.push_back({depth, "byte_perplexity", std::exp(-ll / bytes), n, std::nullopt});
  result.scores.push_back({depth, "bits_per_byte", -ll / bytes / std::log(2.0), n, std::nullopt});
  result.scores.push_back({depth, "word_perplexity", std::exp(-ll / words), n, std::nullopt});
  if (keep_samples)
    for (size_t i = 0; i < data.docs.size(); ++i)
      result.samples.push_back(
          {depth, static_cast<int64_t>(i), texts[i], "", {{"loglikelihood", doc_ll[i]}}});
}

// The recurrences a forward with this setting actually runs (the model's default for 0) and
// the model's vocabulary size.
std::pair<int64_t, int64_t> probe(models::LanguageModel& model, int64_t recurrences) {
  torch::NoGradGuard no_grad;
  models::ForwardOptions options;
  options.recurrences = recurrences;
  const auto out = model.forward(torch::zeros({1, 1}, torch::TensorOptions(torch::kLong).device(model_device(model))),
                                 nullptr, options);
  return {out.recurrences, out.logits.size(-1)};
}

}  // namespace

TaskResult run_task(models::LanguageModel& model, const data::Tokenizer& tokenizer,
                    const TaskSpec& task, const TaskData& data, const RunOptions& options) {
  model.eval();
  TaskResult result;
  result.task = task.name;
  std::vector<int64_t> depths = options.depths;
  if (!model.is_recurrent() || depths.empty()) depths = {0};
  result.settings = {{"task", task.to_json()},
                     {"n_shots", data.shots.size()},
                     {"n_docs", data.docs.size()},
                     {"batch_size", options.batch_size},
                     {"tokenizer", tokenizer.to_json()}};
  const PromptBuilder prompts(task, data.shots);
  result.settings["shot_prefix"] = prompts.shot_prefix();

  for (int64_t requested : depths) {
    const auto [depth, vocab_size] = probe(model, requested);
    DiversityAccumulator diversity;
    ScoringOptions scoring;
    scoring.vocab_size = vocab_size;
    scoring.batch_size = options.batch_size;
    scoring.recurrences = requested;
    if (options.diversity)
      scoring.on_trace = [&](const models::RoutingTrace& t) { diversity.add(t); };
    switch (task.output_type) {
      case OutputType::kGenerateUntil:
        run_generate(model, tokenizer, task, data, prompts, depth, scoring, options.keep_samples,
                     result);
        break;
      case OutputType::kMultipleChoice:
        run_multiple_choice(model, tokenizer, task, data, prompts, depth, scoring,
                            options.keep_samples, result);
        break;
      case OutputType::kLoglikelihoodRolling:
        run_rolling(model, tokenizer, task, data, prompts, depth, scoring, options.keep_samples,
                    result);
        break;
    }
    if (!diversity.empty()) {
      DepthRouting routing{depth, diversity.counts(), diversity.metrics()};
      for (auto& m : balancing_bias_metrics(model)) routing.metrics.push_back(std::move(m));
      result.routing.push_back(std::move(routing));
    }
  }
  return result;
}

}  // namespace dreamer::eval
