#include "eval/runner.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>

#include "eval/batching.h"
#include "eval/decoding.h"
#include "eval/loglikelihood.h"
#include "eval/metrics.h"
#include "eval/prompt.h"
#include "eval/sha256.h"
#include "eval/voting.h"
#include "util/errors.h"

namespace dreamer::eval {

namespace {

Score accuracy(int64_t depth, const std::string& metric, const std::vector<double>& per_doc) {
  return {depth, metric, mean(per_doc), static_cast<int64_t>(per_doc.size()), mean_stderr(per_doc)};
}

// lm-eval's generation arguments (the second argument of a generate_until request).
nlohmann::json generation_kwargs(const TaskSpec& task) {
  const auto& g = task.generation;
  if (!g.do_sample)
    return {{"until", g.until},
            {"do_sample", false},
            {"temperature", 0.0},
            {"max_gen_toks", g.max_new_tokens}};
  return {{"until", g.until}, {"do_sample", true}, {"temperature", g.temperature},
          {"top_p", g.top_p}, {"top_k", g.top_k},  {"max_gen_toks", g.max_new_tokens},
          {"seed", g.seed}};
}

// Python str(float) for the values lm-eval's samples files hold as text.
std::string python_float_text(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  auto text = nlohmann::json(v).dump();
  if (text.find_first_of(".eE") == std::string::npos) text += ".0";
  return text;
}

// One record as lm-eval writes it to samples_<task>_<date>.jsonl.
nlohmann::json lmeval_record(const TaskData& data, size_t i, const std::string& target,
                             const std::string& prompt, nlohmann::json arguments,
                             nlohmann::json resps, nlohmann::json filtered_resps,
                             const std::string& filter,
                             const std::vector<std::pair<std::string, double>>& metrics) {
  nlohmann::json names = nlohmann::json::array();
  for (const auto& m : metrics) names.push_back(m.first);
  nlohmann::json r = {
      {"doc_id", data.doc_id(i)},
      {"doc", data.docs[i]},
      {"target", target},
      {"arguments", std::move(arguments)},
      {"resps", std::move(resps)},
      {"filtered_resps", std::move(filtered_resps)},
      {"filter", filter},
      {"metrics", names},
      {"doc_hash",
       i < data.doc_hashes.size() ? data.doc_hashes[i] : lmeval_doc_hash(data.docs[i].dump())},
      {"prompt_hash", sha256_hex(prompt)},
      {"target_hash", sha256_hex(target)}};
  for (const auto& [name, value] : metrics) r[name] = value;
  return r;
}

void add_warning(TaskResult& result, const std::string& text) {
  result.warnings.push_back(text);
  result.settings["warnings"].push_back(text);
}

// Every filter's score of each document's responses (one, or `repeats`): exact match of the
// extraction (majority vote, pass@k as the filter says) against the reference; records.
void score_outputs(const TaskSpec& task, const TaskData& data, const PromptBuilder& prompts,
                   const std::vector<size_t>& docs, const std::vector<std::string>& contexts,
                   const std::vector<std::vector<Generation>>& outputs, int64_t depth,
                   bool keep_samples, TaskResult& result) {
  std::vector<Filter> filters;
  for (const auto& f : task.filters) filters.emplace_back(f);
  const AnswerMatcher matcher(task.match);
  std::vector<std::vector<double>> correct(filters.size());
  for (size_t k = 0; k < docs.size(); ++k) {
    const size_t i = docs[k];
    const auto reference = prompts.reference(data.docs[i]);
    const auto& responses = outputs[k];
    const auto& out = responses.front();
    std::vector<std::string> texts;
    nlohmann::json resps = nlohmann::json::array();
    for (const auto& g : responses) {
      texts.push_back(g.text);
      resps.push_back(g.text);
    }
    nlohmann::json details = {{"reference", reference},
                              {"new_tokens", out.new_tokens},
                              {"hit_max_new_tokens", out.hit_max_new_tokens},
                              {"prompt_tokens_dropped", out.prompt_tokens_dropped},
                              {"records", nlohmann::json::array()}};
    if (responses.size() > 1) {
      details["responses"] = nlohmann::json::array();
      for (const auto& g : responses)
        details["responses"].push_back({{"text", g.text},
                                        {"new_tokens", g.new_tokens},
                                        {"hit_max_new_tokens", g.hit_max_new_tokens}});
    }
    const nlohmann::json arguments = {
        {"gen_args_0", {{"arg_0", contexts[k]}, {"arg_1", generation_kwargs(task)}}}};
    for (size_t f = 0; f < filters.size(); ++f) {
      const auto reduced = reduce_responses(filters[f], matcher, texts, reference);
      correct[f].push_back(reduced.value);
      const auto& name = filters[f].spec().name;
      auto& entry = details["filters"][name];
      // A 0/1 score stays a bool, as before pass@k existed.
      const bool fraction = filters[f].spec().reduce == Reduction::kPassAtK;
      entry = {{"extracted", reduced.filtered}, {"exact_match", reduced.value == 1.0}};
      if (fraction) entry["exact_match"] = reduced.value;
      if (responses.size() > 1) entry["answers"] = reduced.answers;
      if (keep_samples)
        details["records"].push_back(lmeval_record(
            data, i, reference, contexts[k], arguments, nlohmann::json::array({resps}),
            nlohmann::json::array({reduced.filtered}), name, {{"exact_match", reduced.value}}));
    }
    if (keep_samples)
      result.samples.push_back(
          {depth, static_cast<int64_t>(i), contexts[k], out.text, std::move(details)});
  }
  for (size_t f = 0; f < filters.size(); ++f)
    result.scores.push_back(accuracy(depth, "exact_match," + filters[f].spec().name, correct[f]));
}

// Budget checks: references longer than max_new_tokens in this tokenizer, outputs that ran
// into the budget, prompts cut to fit the context.
void check_budget(const TaskSpec& task, const TaskData& data, const PromptBuilder& prompts,
                  const data::Tokenizer& tokenizer, const std::vector<Generation>& outputs,
                  int64_t depth, TaskResult& result) {
  const int64_t budget = task.generation.max_new_tokens;
  const std::string at = "depth " + std::to_string(depth) + ": ";
  size_t hit = 0, truncated = 0;
  for (const auto& g : outputs) {
    hit += g.hit_max_new_tokens;
    truncated += g.prompt_tokens_dropped > 0;
  }
  result.settings["outputs_at_max_new_tokens"][std::to_string(depth)] = hit;
  if (hit > 0)
    add_warning(result, at + std::to_string(hit) + " of " + std::to_string(outputs.size()) +
                            " outputs stopped at max_new_tokens = " + std::to_string(budget));
  if (truncated > 0)
    add_warning(result, at + std::to_string(truncated) + " of " + std::to_string(outputs.size()) +
                            " prompts were left-truncated to fit max length");
  if (result.settings.contains("references_longer_than_budget")) return;  // said once
  size_t longer = 0;
  for (const auto& doc : data.docs)
    longer +=
        static_cast<int64_t>(tokenizer.encode(" " + prompts.target_text(doc)).size()) > budget;
  const size_t n = data.docs.size();
  result.settings["references_longer_than_budget"] = longer;
  if (longer * 20 > n)  // more than 5%
    add_warning(result, std::to_string(longer) + " of " + std::to_string(n) +
                            " reference answers are longer than max_new_tokens = " +
                            std::to_string(budget) + " tokens of this tokenizer (" +
                            tokenizer.to_json().value("type", std::string("?")) +
                            "): answers in that style will be cut; raise --max-new-tokens");
}

// generate_until: greedy outputs, every filter's extraction scored by exact match.
void run_generate(models::LanguageModel& model, const data::Tokenizer& tokenizer,
                  const TaskSpec& task, const TaskData& data, const PromptBuilder& prompts,
                  int64_t depth, const ScoringOptions& scoring, const RunOptions& options,
                  TaskResult& result) {
  std::vector<std::string> contexts;
  std::vector<size_t> docs;
  for (size_t i = 0; i < data.docs.size(); ++i) {
    contexts.push_back(prompts.context(data.docs[i], data.shots_of(i)));
    docs.push_back(i);
  }
  GenerationOptions generation;
  generation.until = task.generation.until;
  generation.max_new_tokens = task.generation.max_new_tokens;
  generation.max_length = options.max_length;
  generation.timings = options.generation_timings;
  generation.cuda_graphs = options.cuda_graphs;
  const auto& g = task.generation;
  generation.sampling = {g.do_sample, g.temperature, g.top_p, g.top_k};
  // `repeats` copies of each prompt; a sampled response's stream depends only on the seed, the
  // document's id and the repeat, so --limit and batching leave every response as it was.
  const size_t repeats = static_cast<size_t>(task.repeats);
  std::vector<std::string> requests;
  for (size_t k = 0; k < docs.size(); ++k)
    for (size_t r = 0; r < repeats; ++r) {
      requests.push_back(contexts[k]);
      if (g.do_sample)
        generation.stream_seeds.push_back(
            sample_stream_seed(g.seed, data.doc_id(docs[k]), static_cast<int64_t>(r)));
    }
  const auto flat = greedy_generate_detailed(model, tokenizer, requests, generation, scoring);
  check_budget(task, data, prompts, tokenizer, flat, depth, result);
  std::vector<std::vector<Generation>> outputs(docs.size());
  for (size_t j = 0; j < flat.size(); ++j) outputs[j / repeats].push_back(flat[j]);
  score_outputs(task, data, prompts, docs, contexts, outputs, depth, options.keep_samples, result);
}

// Choice scores: acc (argmax of log-likelihoods), acc_norm (per character, lm-eval),
// acc_bytes (per UTF-8 byte); records as lm-eval's.
void score_choices(const TaskSpec& task, const TaskData& data, const PromptBuilder& prompts,
                   const std::vector<size_t>& docs, const std::vector<std::string>& contexts,
                   const std::vector<std::vector<double>>& lls,
                   const std::vector<std::vector<bool>>& greedy, int64_t depth, bool keep_samples,
                   TaskResult& result) {
  std::map<std::string, std::vector<double>> per_metric;
  for (size_t k = 0; k < docs.size(); ++k) {
    const size_t i = docs[k];
    const auto choices = prompts.choices(data.docs[i]);
    if (lls[k].size() != choices.size())
      throw InputError("doc " + std::to_string(data.doc_id(i)),
                       std::to_string(lls[k].size()) + " log-likelihoods for " +
                           std::to_string(choices.size()) + " choices");
    const int64_t gold = prompts.gold(data.docs[i]);
    std::vector<double> by_chars, by_bytes;
    for (size_t c = 0; c < choices.size(); ++c) {
      by_chars.push_back(lls[k][c] / static_cast<double>(python_len(choices[c])));
      by_bytes.push_back(lls[k][c] / static_cast<double>(choices[c].size()));
    }
    const size_t best = numpy_argmax(lls[k]);
    const std::map<std::string, size_t> picked = {
        {"acc", best}, {"acc_norm", numpy_argmax(by_chars)}, {"acc_bytes", numpy_argmax(by_bytes)}};
    std::vector<std::pair<std::string, double>> values;
    for (const auto& m : task.metrics) {
      const double v = static_cast<int64_t>(picked.at(m)) == gold ? 1.0 : 0.0;
      per_metric[m].push_back(v);
      values.emplace_back(m, v);
    }
    if (!keep_samples) continue;
    nlohmann::json arguments = nlohmann::json::object(), resps = nlohmann::json::array(),
                   filtered = nlohmann::json::array();
    for (size_t c = 0; c < choices.size(); ++c) {
      arguments["gen_args_" + std::to_string(c)] = {{"arg_0", contexts[k]},
                                                    {"arg_1", task.target_delimiter + choices[c]}};
      // Built element by element: a braced list of two strings could read as an object.
      nlohmann::json pair = nlohmann::json::array();
      pair.push_back(python_float_text(lls[k][c]));
      pair.push_back(c < greedy[k].size() && greedy[k][c] ? "True" : "False");
      nlohmann::json wrapped = nlohmann::json::array();
      wrapped.push_back(pair);
      resps.push_back(std::move(wrapped));
      filtered.push_back(std::move(pair));
    }
    nlohmann::json details = {{"gold", gold}, {"choices", choices}, {"loglikelihoods", lls[k]}};
    for (const auto& [name, v] : values) details[name] = v == 1.0;
    details["records"] = {lmeval_record(data, i, std::to_string(gold), contexts[k], arguments,
                                        resps, filtered, "none", values)};
    result.samples.push_back(
        {depth, static_cast<int64_t>(i), contexts[k], choices[best], std::move(details)});
  }
  for (const auto& m : task.metrics) result.scores.push_back(accuracy(depth, m, per_metric[m]));
}

// multiple_choice: log-likelihood of target_delimiter + choice after the context.
void run_multiple_choice(models::LanguageModel& model, const data::Tokenizer& tokenizer,
                         const TaskSpec& task, const TaskData& data, const PromptBuilder& prompts,
                         int64_t depth, const ScoringOptions& scoring, bool keep_samples,
                         TaskResult& result) {
  std::vector<TokenRequest> requests;
  std::vector<std::string> contexts;
  std::vector<size_t> docs, n_choices;
  for (size_t i = 0; i < data.docs.size(); ++i) {
    contexts.push_back(prompts.context(data.docs[i], data.shots_of(i)));
    docs.push_back(i);
    const auto choices = prompts.choices(data.docs[i]);
    n_choices.push_back(choices.size());
    for (const auto& c : choices)
      requests.push_back(encode_pair(tokenizer, contexts.back(), task.target_delimiter + c));
  }
  const auto scored = score_tokens(model, requests, scoring);
  std::vector<std::vector<double>> lls(docs.size());
  std::vector<std::vector<bool>> greedy(docs.size());
  size_t next = 0;
  for (size_t k = 0; k < docs.size(); ++k)
    for (size_t c = 0; c < n_choices[k]; ++c, ++next) {
      lls[k].push_back(scored[next].logprob);
      greedy[k].push_back(scored[next].is_greedy);
    }
  score_choices(task, data, prompts, docs, contexts, lls, greedy, depth, keep_samples, result);
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
  ScoringOptions whole = scoring;
  whole.max_length = 0;  // windows are already at most max_length long
  const auto scored = score_tokens(model, windows, whole);
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
          {depth,
           static_cast<int64_t>(i),
           texts[i],
           "",
           {{"loglikelihood", doc_ll[i]}, {"bytes", static_cast<int64_t>(texts[i].size())}}});
}

// The recurrences a forward with this setting actually runs (the model's default for 0) and
// the model's vocabulary size.
std::pair<int64_t, int64_t> probe(models::LanguageModel& model, int64_t recurrences) {
  torch::NoGradGuard no_grad;
  models::ForwardOptions options;
  options.recurrences = recurrences;
  const auto out = model.forward(
      torch::zeros({1, 1}, torch::TensorOptions(torch::kLong).device(model_device(model))), nullptr,
      options);
  return {out.recurrences, out.logits.size(-1)};
}

nlohmann::json base_settings(const TaskSpec& task, const TaskData& data) {
  return {{"task", task.to_json()},
          {"n_shots", data.shots.size()},
          {"shots", data.shot_settings},
          {"n_docs", data.docs.size()},
          {"warnings", nlohmann::json::array()}};
}

// The prompts this task builds, and how many external prompts differ from them.
std::vector<std::string> own_contexts(const PromptBuilder& prompts, const TaskData& data,
                                      const std::vector<size_t>& docs,
                                      const std::vector<std::optional<std::string>>& external,
                                      size_t& differing) {
  std::vector<std::string> contexts;
  differing = 0;
  for (size_t k = 0; k < docs.size(); ++k) {
    auto own = prompts.context(data.docs[docs[k]], data.shots_of(docs[k]));
    if (external[k] && *external[k] != own) {
      ++differing;
      own = *external[k];  // the record keeps the prompt the output came from
    }
    contexts.push_back(std::move(own));
  }
  return contexts;
}

void warn_differing(TaskResult& result, size_t differing, size_t n) {
  result.settings["external_prompts_differing"] = differing;
  if (differing > 0)
    add_warning(result, std::to_string(differing) + " of " + std::to_string(n) +
                            " external prompts differ from the prompts this task builds");
}

}  // namespace

size_t numpy_argmax(const std::vector<double>& values) {
  size_t best = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    if (std::isnan(values[i])) return i;
    if (values[i] > values[best]) best = i;
  }
  return best;
}

size_t python_len(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

TaskResult run_task(models::LanguageModel& model, const data::Tokenizer& tokenizer,
                    const TaskSpec& task, const TaskData& data, const RunOptions& options) {
  model.eval();
  TaskResult result;
  result.task = task.name;
  std::vector<int64_t> depths = options.depths;
  if (!model.is_recurrent() || depths.empty()) depths = {0};
  result.settings = base_settings(task, data);
  result.settings["batch_size"] = options.batch_size;
  result.settings["max_length"] = options.max_length;
  result.settings["tokenizer"] = tokenizer.to_json();
  const PromptBuilder prompts(task, data.shots);
  result.settings["shot_prefix"] = prompts.shot_prefix();

  for (int64_t requested : depths) {
    const auto [depth, vocab_size] = probe(model, requested);
    DiversityAccumulator diversity;
    ScoringOptions scoring;
    scoring.vocab_size = vocab_size;
    scoring.batch_size = options.batch_size;
    scoring.mixed_lengths = options.mixed_lengths;
    scoring.recurrences = requested;
    scoring.max_length = options.max_length;
    if (options.diversity)
      scoring.on_trace = [&](const models::RoutingTrace& t) { diversity.add(t); };
    switch (task.output_type) {
      case OutputType::kGenerateUntil:
        run_generate(model, tokenizer, task, data, prompts, depth, scoring, options, result);
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

TaskResult score_generations(const TaskSpec& task, const TaskData& data,
                             const std::vector<std::optional<ExternalGeneration>>& outputs,
                             bool keep_samples) {
  if (task.output_type != OutputType::kGenerateUntil)
    throw InputError(task.name, "is not a generate_until task; generations cannot be scored");
  TaskResult result;
  result.task = task.name;
  result.settings = base_settings(task, data);
  result.settings["external"] = true;
  const PromptBuilder prompts(task, data.shots);
  std::vector<size_t> docs;
  std::vector<std::optional<std::string>> external_prompts;
  std::vector<std::vector<Generation>> generations;
  for (size_t i = 0; i < data.docs.size() && i < outputs.size(); ++i)
    if (outputs[i]) {
      docs.push_back(i);
      external_prompts.push_back(outputs[i]->prompt);
      std::vector<std::string> texts = outputs[i]->outputs;
      if (texts.empty()) texts = {outputs[i]->output};
      if (static_cast<int64_t>(texts.size()) < task.repeats)
        throw InputError("doc_id " + std::to_string(data.doc_id(i)),
                         std::to_string(texts.size()) + " responses, but task " + task.name +
                             " scores " + std::to_string(task.repeats) + " (repeats)");
      texts.resize(static_cast<size_t>(task.repeats));
      generations.emplace_back();
      for (auto& text : texts) {
        Generation g;
        g.text = std::move(text);
        generations.back().push_back(std::move(g));
      }
    }
  if (docs.empty()) throw InputError(task.name, "no predictions for any of its documents");
  size_t differing = 0;
  const auto contexts = own_contexts(prompts, data, docs, external_prompts, differing);
  warn_differing(result, differing, docs.size());
  score_outputs(task, data, prompts, docs, contexts, generations, 0, keep_samples, result);
  return result;
}

TaskResult score_choice_loglikelihoods(const TaskSpec& task, const TaskData& data,
                                       const std::vector<std::optional<ExternalChoices>>& lls,
                                       bool keep_samples) {
  if (task.output_type != OutputType::kMultipleChoice)
    throw InputError(task.name, "is not a multiple_choice task; log-likelihoods cannot be scored");
  TaskResult result;
  result.task = task.name;
  result.settings = base_settings(task, data);
  result.settings["external"] = true;
  const PromptBuilder prompts(task, data.shots);
  std::vector<size_t> docs;
  std::vector<std::optional<std::string>> external_prompts;
  std::vector<std::vector<double>> values;
  std::vector<std::vector<bool>> greedy;
  for (size_t i = 0; i < data.docs.size() && i < lls.size(); ++i)
    if (lls[i]) {
      docs.push_back(i);
      external_prompts.push_back(lls[i]->prompt);
      values.push_back(lls[i]->loglikelihoods);
      greedy.push_back(lls[i]->is_greedy);
    }
  if (docs.empty()) throw InputError(task.name, "no predictions for any of its documents");
  size_t differing = 0;
  const auto contexts = own_contexts(prompts, data, docs, external_prompts, differing);
  warn_differing(result, differing, docs.size());
  score_choices(task, data, prompts, docs, contexts, values, greedy, 0, keep_samples, result);
  return result;
}

}  // namespace dreamer::eval
