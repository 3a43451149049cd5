// dreamer bench-decode and bench-eval: decoding and evaluation throughput of one model config
// (random weights), one JSON line each, like bench-step. bench-decode times greedy decoding
// through the static KV cache against re-running the whole forward for every new token;
// bench-eval times the GSM8K 5-shot eval (generation, extraction, scoring) over N documents,
// with prompts of mixed lengths batched together or (--grouping equal) only prompts of equal
// length, the scheme before mixed-length batching.
#include <torch/torch.h>

#include <chrono>
#include <fstream>
#include <iostream>

#include "cli/bench_commands.h"
#include "cli/bench_common.h"
#include "data/tokenizer.h"
#include "eval/documents.h"
#include "eval/runner.h"
#include "eval/synthetic_source.h"
#include "eval/task_spec.h"
#include "models/static_decode.h"
#include "util/device.h"
#include "util/errors.h"
#include "util/json_reader.h"
#include "zoo/registry.h"

namespace dreamer::cli {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

struct BenchDecodeArgs {
  std::string config, device = "auto", precision = "auto", label, out;
  int64_t batch = 1, context = 1024, new_tokens = 32, seed = 0;
  std::string profile;         // the kernel table of cached decode steps; empty: no profile
  int64_t profile_steps = 16;  // one-token steps profiled after the timed runs
  std::string cuda_graphs = "on";
};

nlohmann::json bench_decode(const BenchDecodeArgs& a) {
  const auto config = zoo::model_config_from_file(a.config);
  const c10::Device device = resolve_device(a.device, "--device");
  check_profile_flags(a.profile, a.device);
  const bool bf16 = use_bf16(a.precision, device);
  torch::manual_seed(a.seed);
  auto model = zoo::build_model(config);
  model->to(device);
  model->eval();
  torch::NoGradGuard no_grad;
  CudaAutocast autocast(bf16);
  const int64_t vocab = config.params.value("vocab_size", int64_t{256});
  // The context is the prompt: new tokens end at position context + new_tokens.
  const auto prompt = torch::randint(0, vocab, {a.batch, a.context},
                                     torch::TensorOptions().dtype(torch::kLong).device(device));
  auto greedy = [](const torch::Tensor& logits) {
    return logits.select(1, logits.size(1) - 1).argmax(-1, /*keepdim=*/true);  // [B, 1]
  };
  // Cached: one prefill, then one token per call through the static cache: ordinary forward
  // calls (eager) or, where the family and device allow, steps replayed from a CUDA graph
  // captured at the third step (the capture is inside the timed loop, as in an eval).
  const auto graph_mode = models::choose_decode_mode(*model, device, {}, a.cuda_graphs == "on");
  auto cached = [&](models::DecodeMode mode, torch::Tensor* tokens, double* prefill_s) {
    synchronize(device);
    auto t0 = std::chrono::steady_clock::now();
    models::InferenceState state;
    state.capacity = a.context + a.new_tokens;
    auto next = greedy(model->forward(prompt, &state).logits);
    synchronize(device);
    *prefill_s = seconds_since(t0);
    std::vector<torch::Tensor> out{next};
    t0 = std::chrono::steady_clock::now();
    models::StaticDecoder decoder(*model, state, {}, mode);
    for (int64_t i = 1; i < a.new_tokens; ++i) {
      next = greedy(decoder.step(next).logits);
      out.push_back(next);
    }
    synchronize(device);
    *tokens = torch::cat(out, 1);
    return seconds_since(t0);
  };
  // Uncached: the whole sequence again for every token after the first.
  auto uncached = [&](torch::Tensor* tokens) {
    auto sequence = torch::cat({prompt, greedy(model->forward(prompt).logits)}, 1);
    synchronize(device);
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t i = 1; i < a.new_tokens; ++i)
      sequence = torch::cat({sequence, greedy(model->forward(sequence).logits)}, 1);
    synchronize(device);
    *tokens = sequence.narrow(1, a.context, a.new_tokens);
    return seconds_since(t0);
  };
  torch::Tensor cached_tokens, eager_tokens, uncached_tokens;
  double prefill_s = 0;
  cached(models::DecodeMode::kEager, &eager_tokens, &prefill_s);  // warm-up (allocator, kernels)
  const double eager_s = cached(models::DecodeMode::kEager, &eager_tokens, &prefill_s);
  double cached_s = eager_s;
  cached_tokens = eager_tokens;
  if (graph_mode == models::DecodeMode::kGraph) {
    // The graph run gets its warm-up too (the masked attention kernels of static steps compile
    // on first use); its timed run still captures its own graph, as every eval batch does.
    cached(graph_mode, &cached_tokens, &prefill_s);
    cached_s = cached(graph_mode, &cached_tokens, &prefill_s);
  }
  const double uncached_s = uncached(&uncached_tokens);
  const double steps = static_cast<double>(a.batch * (a.new_tokens - 1));
  nlohmann::json result = {
      {"label", a.label.empty() ? a.config : a.label},
      {"impl", "dreamer"},
      {"family", config.family},
      {"params", models::count_parameters(*model).total},
      {"device", device_description(device)},
      {"precision", bf16 ? "bf16-autocast" : "fp32"},
      {"batch", a.batch},
      {"context", a.context},
      {"new_tokens", a.new_tokens},
      {"prefill_s", prefill_s},
      {"decode_mode", graph_mode == models::DecodeMode::kGraph ? "cuda_graph" : "eager"},
      {"cached_tokens_per_s", steps / cached_s},
      {"eager_cached_tokens_per_s", steps / eager_s},
      {"uncached_tokens_per_s", steps / uncached_s},
      {"speedup", uncached_s / cached_s},
      {"eager_speedup", uncached_s / eager_s},
      // Greedy tokens of both ways, compared: bf16 rounding may flip a near tie.
      {"same_tokens", cached_tokens.equal(uncached_tokens)},
      {"graph_same_tokens_as_eager", cached_tokens.equal(eager_tokens)}};
  if (!a.profile.empty()) {
    // One-token steps through the cache after a fresh prefill: device time against wall time
    // per step says whether decoding waits for the GPU or for the host.
    // The graph (when used) is captured before the profile starts: only replays are profiled.
    models::InferenceState state;
    state.capacity = a.context + a.profile_steps + 4;
    auto next = greedy(model->forward(prompt, &state).logits);
    models::StaticDecoder decoder(*model, state, {}, graph_mode);
    for (int i = 0; i < 3; ++i) next = greedy(decoder.step(next).logits);
    profile_into(result, a.profile, result["label"].get<std::string>() + " decode", a.profile_steps,
                 [&] {
                   next = greedy(decoder.step(next).logits);
                   synchronize(device);
                 });
  }
  return result;
}

struct BenchEvalArgs {
  std::string config, device = "auto", precision = "auto", label, out, data_dir, tokenizer,
                      grouping = "mixed", task = "gsm8k", cuda_graphs = "on";
  int64_t docs = 256, batch_size = 8, max_length = 2048, max_new_tokens = 0, seed = 0,
          num_fewshot = -1;
};

nlohmann::json bench_eval(const BenchEvalArgs& a) {
  const auto config = zoo::model_config_from_file(a.config);
  const c10::Device device = resolve_device(a.device, "--device");
  const bool bf16 = use_bf16(a.precision, device);
  require(a.grouping == "mixed" || a.grouping == "equal", "--grouping",
          "expected mixed or equal, got \"" + a.grouping + "\"");
  std::shared_ptr<data::Tokenizer> tokenizer = std::make_shared<data::ByteTokenizer>();
  if (!a.tokenizer.empty())
    tokenizer = data::make_tokenizer(read_json_file(a.tokenizer), a.tokenizer);
  const int64_t vocab = config.params.value("vocab_size", int64_t{0});
  require(vocab >= tokenizer->vocab_size(), a.config + ": $.vocab_size",
          "the tokenizer has " + std::to_string(tokenizer->vocab_size()) +
              " ids, the model's vocabulary " + std::to_string(vocab));
  auto spec = eval::load_task(a.task, eval::task_search_dirs());
  if (a.max_new_tokens > 0) spec.generation.max_new_tokens = a.max_new_tokens;
  const auto root = a.data_dir.empty() ? eval::default_data_root() : a.data_dir;
  eval::DataOptions data_options;
  data_options.limit = a.docs;
  if (a.num_fewshot >= 0) data_options.num_fewshot = a.num_fewshot;
  const auto data =
      eval::load_task_data(spec, root, eval::builtin_synthetic_sources(), data_options);
  torch::manual_seed(a.seed);
  const auto setup_t0 = std::chrono::steady_clock::now();
  auto model = zoo::build_model(config);
  model->to(device);
  model->eval();
  synchronize(device);
  const double model_setup_s = seconds_since(setup_t0);
  eval::GenerationTimings timings;
  eval::RunOptions options;
  options.generation_timings = &timings;
  options.cuda_graphs = a.cuda_graphs == "on";
  options.batch_size = a.batch_size;
  options.max_length = a.max_length;
  options.diversity = false;
  options.mixed_lengths = a.grouping == "mixed";
  CudaAutocast autocast(bf16);
  synchronize(device);
  const auto t0 = std::chrono::steady_clock::now();
  const auto result = eval::run_task(*model, *tokenizer, spec, data, options);
  synchronize(device);
  const double seconds = seconds_since(t0);
  const auto n = static_cast<int64_t>(data.docs.size());
  return {{"label", a.label.empty() ? a.config : a.label},
          {"impl", "dreamer"},
          {"family", config.family},
          {"params", models::count_parameters(*model).total},
          {"device", device_description(device)},
          {"precision", bf16 ? "bf16-autocast" : "fp32"},
          {"task", spec.name},
          {"docs", n},
          {"shots", static_cast<int64_t>(data.shots.size())},
          {"batch_size", a.batch_size},
          {"grouping", a.grouping},
          {"cuda_graphs", a.cuda_graphs},
          {"max_new_tokens", spec.generation.max_new_tokens},
          {"tokenizer", tokenizer->to_json()},
          {"seconds", seconds},
          {"docs_per_s", static_cast<double>(n) / seconds},
          // Where the time went: building the model (outside `seconds`), the prefill forwards,
          // the one-token steps (some still feeding prompt tokens of longer rows), the rest
          // (prompt building, tokenising, extraction, scoring).
          {"model_setup_s", model_setup_s},
          {"batches", timings.batches},
          {"prefill_tokens", timings.prefill_tokens},
          {"prefill_s", timings.prefill_s},
          {"steps", timings.steps},
          {"prompt_steps", timings.prompt_steps},
          {"row_steps", timings.row_steps},
          {"generated_tokens", timings.generated_tokens},
          {"step_s", timings.step_s},
          {"ms_per_step", timings.steps ? 1e3 * timings.step_s / timings.steps : 0.0},
          {"other_s", seconds - timings.prefill_s - timings.step_s}};
}

}  // namespace

void add_bench_eval_commands(CLI::App& app) {
  auto* decode = app.add_subcommand(
      "bench-decode",
      "greedy decode tokens/s through the static KV cache vs re-running the forward (JSON)");
  static BenchDecodeArgs d;
  decode->add_option("--config", d.config, "model config JSON")->required();
  decode->add_option("--batch", d.batch, "sequences decoded together")->check(CLI::PositiveNumber);
  decode->add_option("--context", d.context, "prompt tokens before decoding (default 1024)")
      ->check(CLI::PositiveNumber);
  decode->add_option("--new-tokens", d.new_tokens, "tokens decoded (>= 2)")
      ->check(CLI::Range(int64_t{2}, int64_t{1} << 20));
  decode->add_option("--device", d.device, "auto, cpu, cuda or cuda:N");
  decode->add_option("--precision", d.precision, "auto, fp32 or bf16");
  decode->add_option("--seed", d.seed, "random seed");
  decode->add_option("--label", d.label, "name in the output (default: the config path)");
  decode->add_option("--out", d.out, "also append the JSON line to this file");
  decode->add_option("--profile", d.profile,
                     "also profile one-token steps: kernel table to FILE, trace to FILE.trace.json "
                     "(CUDA, LibTorch 2.x)");
  decode->add_option("--profile-steps", d.profile_steps, "one-token steps profiled (default 16)")
      ->check(CLI::PositiveNumber);
  decode
      ->add_option("--cuda-graphs", d.cuda_graphs,
                   "on: cached steps replayed from a CUDA graph where the family allows (default); "
                   "off: ordinary forward calls only")
      ->check(CLI::IsMember({"on", "off"}));
  decode->callback([] { emit(bench_decode(d), d.out); });

  auto* ev = app.add_subcommand(
      "bench-eval", "GSM8K 5-shot eval throughput of one model config, random weights (JSON)");
  static BenchEvalArgs e;
  ev->add_option("--config", e.config, "model config JSON (vocab_size >= the tokenizer's)")
      ->required();
  ev->add_option("--docs", e.docs, "documents scored (default 256)")->check(CLI::PositiveNumber);
  ev->add_option("--batch-size", e.batch_size, "sequences per forward call")
      ->check(CLI::PositiveNumber);
  ev->add_option("--grouping", e.grouping,
                 "mixed: prompts of different lengths batched together (default); equal: only "
                 "prompts of equal length (the earlier scheme)");
  ev->add_option("--max-length", e.max_length, "model context; longer prompts are left-truncated")
      ->check(CLI::NonNegativeNumber);
  ev->add_option("--max-new-tokens", e.max_new_tokens, "generation budget instead of the task's")
      ->check(CLI::PositiveNumber);
  ev->add_option("--num-fewshot", e.num_fewshot, "shots per document instead of the task's (5)")
      ->check(CLI::NonNegativeNumber);
  ev->add_option("--tokenizer", e.tokenizer, "tokenizer JSON file (default: bytes)");
  ev->add_option("--task", e.task, "task name or file (default gsm8k)");
  ev->add_option("--data-dir", e.data_dir,
                 "data root (default: $DREAMER_DATA_DIR or ../shared/data)");
  ev->add_option("--device", e.device, "auto, cpu, cuda or cuda:N");
  ev->add_option("--precision", e.precision, "auto, fp32 or bf16");
  ev->add_option("--seed", e.seed, "random seed of the weights");
  ev->add_option("--label", e.label, "name in the output (default: the config path)");
  ev->add_option("--out", e.out, "also append the JSON line to this file");
  ev->add_option("--cuda-graphs", e.cuda_graphs,
                 "on: decode steps replayed from a CUDA graph where the family allows (default); "
                 "off: ordinary forward calls")
      ->check(CLI::IsMember({"on", "off"}));
  ev->callback([] { emit(bench_eval(e), e.out); });
}

}  // namespace dreamer::cli
