#include "experiments/runner.h"

#include <torch/torch.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <set>
#include <sstream>

#include "data/mixture.h"
#include "data/packed_stream.h"
#include "data/tokenizer.h"
#include "eval/documents.h"
#include "eval/metrics.h"
#include "eval/runner.h"
#include "models/registry.h"
#include "results/store.h"
#include "train/trainer.h"
#include "util/device.h"
#include "util/errors.h"

namespace dreamer::experiments {

namespace fs = std::filesystem;

namespace {

std::string safe_path_part(std::string s) {
  for (auto& c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' || c == '=' || c == ',' ||
          c == '+' || c == '[' || c == ']'))
      c = '_';
  return s;
}

std::string code_version() {
#ifdef DREAMER_GIT_COMMIT
  return DREAMER_GIT_COMMIT;
#else
  return "unknown";
#endif
}

// Fails with the run's arm when its matched config does not fit the tokenizer.
std::pair<bool, int64_t> probe_model(const models::ModelConfig& config, int64_t vocab, const std::string& where) {
  auto model = models::build_model(config);
  torch::NoGradGuard no_grad;
  model->eval();
  const auto out = model->forward(torch::zeros({1, 1}, torch::kLong));
  require(out.logits.size(-1) >= vocab, where,
          "the model's vocabulary (" + std::to_string(out.logits.size(-1)) + ") is smaller than the tokenizer's (" +
              std::to_string(vocab) + "); set model.vocab_size");
  return {model->is_recurrent(), out.recurrences};
}

}  // namespace

std::string run_directory(const RunnerOptions& options, const PlannedRun& run, const std::string& experiment) {
  return (fs::path(options.out_dir) / safe_path_part(experiment) / safe_path_part(run.arm) /
          ("seed" + std::to_string(run.seed)))
      .string();
}

ExperimentPlan plan_experiment(const ExperimentSpec& spec, const std::vector<std::string>& task_dirs) {
  require(spec.has_training, spec.file,
          "has no \"data\" and \"train\": it can be matched (dreamer match) but not trained");
  ExperimentPlan plan;
  plan.spec = spec;
  for (size_t i = 0; i < spec.eval.tasks.size(); ++i) {
    const auto& t = spec.eval.tasks[i];
    const std::string path = spec.file + ":$.eval.tasks[" + std::to_string(i) + "]";
    PlannedTask task;
    task.spec = t.task.is_string() ? eval::load_task(t.task.get<std::string>(), task_dirs)
                                   : eval::TaskSpec::from_json(t.task, path + ".task");
    task.metric = t.metric.empty() ? eval::default_metric(task.spec) : t.metric;
    eval::check_metric(task.spec, task.metric, path + ".metric");
    task.higher_is_better = eval::higher_is_better(task.metric);
    task.limit = t.limit;
    for (const auto& other : plan.tasks)
      require(other.spec.name != task.spec.name, path, "task \"" + task.spec.name + "\" is listed twice");
    plan.tasks.push_back(std::move(task));
  }

  const auto tokenizer = data::make_tokenizer(spec.data.tokenizer, spec.file + ":$.data.tokenizer");
  const auto& workload = spec.matching.workload;
  for (size_t a = 0; a < spec.matching.arms.size(); ++a) {
    const auto& arm = spec.matching.arms[a];
    const std::string path = spec.file + ":$.arms[" + std::to_string(a) + "]";
    auto match = matching::solve(arm, spec.matching.targets, workload, path);
    require(match.within_tolerance, path, match.failure);
    const auto [recurrent, default_depth] = probe_model(match.config, tokenizer->vocab_size(), path + ".model");
    const auto& settings = spec.train.at(arm.name);
    for (const auto seed : spec.seeds) {
      PlannedRun run;
      run.run_id = run_id(spec.name, arm.name, seed);
      run.arm = arm.name;
      run.seed = seed;
      run.match = match;
      run.train = settings;
      run.tokens_per_step = train::tokens_per_step(settings, workload.batch, workload.seq_len);
      run.total_steps = train::total_steps(settings, run.tokens_per_step);
      run.eval_steps = eval_steps(spec.eval, run.total_steps, run.tokens_per_step);
      run.recurrent = recurrent;
      run.default_depth = default_depth;
      if (recurrent) {
        std::set<int64_t> depths(spec.eval.depths.begin(), spec.eval.depths.end());
        depths.insert(default_depth);  // the main table reads the default depth
        run.eval_depths.assign(depths.begin(), depths.end());
      }
      run.train_flops = match.cost.flops_train_per_token * static_cast<double>(run.total_steps * run.tokens_per_step);
      plan.runs.push_back(std::move(run));
    }
  }
  return plan;
}

double calibrate_tokens_per_second(const ExperimentPlan& plan, const PlannedRun& run, const std::string& device_name,
                                   int steps) {
  const auto device = resolve_device(device_name, "--device");
  torch::manual_seed(run.seed);
  auto model = models::build_model(run.match.config);
  model->to(device);
  model->train();
  torch::optim::AdamW optimizer(model->parameters(), torch::optim::AdamWOptions(1e-4));
  const auto& w = plan.spec.matching.workload;
  const int64_t vocab = std::min<int64_t>(256, run.match.config.params.value("vocab_size", int64_t{256}));
  const bool bf16 = device.is_cuda() && run.train.precision != train::Precision::kFloat32;
  auto step = [&] {
    auto tokens = torch::randint(vocab, {w.batch, w.seq_len + 1}, torch::kLong).to(device);
    optimizer.zero_grad();
    const auto loss = train::training_loss(*model, tokens, bf16);
    (loss.cross_entropy + loss.aux).backward();
    optimizer.step();
    model->after_optimizer_step();
    if (device.is_cuda()) torch::cuda::synchronize(device.index());
  };
  step();  // warm-up: allocations, kernel selection
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < steps; ++i) step();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return static_cast<double>(steps) * w.batch * w.seq_len / std::max(seconds, 1e-9);
}

void run_experiment(const ExperimentPlan& plan, const RunnerOptions& options) {
  const auto& spec = plan.spec;
  for (const auto& arm : options.arms) {
    bool known = false;
    for (const auto& run : plan.runs) known = known || run.arm == arm;
    require(known, "--arm", "\"" + arm + "\" is not an arm of " + spec.file);
  }
  results::ResultStore store(options.db);
  std::vector<results::ReportTask> tasks;
  for (const auto& t : plan.tasks) tasks.push_back({t.spec.name, t.metric, t.higher_is_better});
  store.write_experiment(spec.name, fs::weakly_canonical(spec.file).string(), spec.resolved.dump(),
                         spec.reference_arm, tasks);

  const auto tokenizer = data::make_tokenizer(spec.data.tokenizer, spec.file + ":$.data.tokenizer");
  const std::string data_root = options.data_root.empty() ? eval::default_data_root() : options.data_root;
  std::vector<eval::TaskData> task_data;
  for (const auto& t : plan.tasks)
    task_data.push_back(eval::load_task_data(t.spec, data_root, eval::builtin_synthetic_sources(), t.limit));

  for (const auto& run : plan.runs) {
    if (!options.arms.empty() &&
        std::find(options.arms.begin(), options.arms.end(), run.arm) == options.arms.end())
      continue;
    const std::string dir = run_directory(options, run, spec.name);
    std::optional<std::string> resume_dir;
    if (options.resume) {
      results::Statement status(store.db(), "SELECT status FROM runs WHERE run_id = ?1");
      status.bind(1, run.run_id);
      if (status.step() && status.column_text(0) == "finished" && train::latest_checkpoint(dir)) {
        std::cout << run.run_id << ": finished earlier, skipped\n";
        continue;
      }
      resume_dir = train::latest_checkpoint(dir);
    }
    if (!resume_dir) {
      fs::remove_all(dir);
      store.truncate_run(run.run_id, 0, "");
    }
    fs::create_directories(dir);

    const auto device = resolve_device(run.train.device, spec.file + ":$.train.device");
    results::RunRow record;
    record.run_id = run.run_id;
    record.experiment = spec.name;
    record.arm = run.arm;
    record.seed = run.seed;
    record.family = run.match.config.family;
    record.config_json = run.match.config.to_json().dump();
    record.train_json = run.train.to_json().dump();
    record.params = static_cast<double>(run.match.cost.params.total);
    record.active_params = static_cast<double>(run.match.cost.active_params);
    record.flops_per_token = run.match.cost.flops_forward_per_token;
    record.train_flops_per_token = run.match.cost.flops_train_per_token;
    record.memory_bytes = run.match.cost.memory_train_bytes;
    record.default_depth = run.default_depth;
    record.code_version = code_version();
    record.device = device_description(device);
    record.status = "running";
    store.write_run(record);

    torch::manual_seed(run.seed);
    auto model = models::build_model(run.match.config);
    data::PackedStream stream(tokenizer, data::Mixture::from_json(spec.data.train, spec.file + ":$.data.train"),
                              static_cast<uint64_t>(run.seed), spec.matching.workload.seq_len);
    train::TrainerOptions topt;
    topt.micro_batch = spec.matching.workload.batch;
    topt.run_dir = dir;
    topt.checkpoint_steps = {run.eval_steps.begin(), run.eval_steps.end()};
    topt.train_flops_per_token = run.match.cost.flops_train_per_token;
    topt.stop_after_step = options.stop_after_step;
    topt.progress = options.progress;
    topt.label = run.arm + "/seed" + std::to_string(run.seed);
    train::Trainer trainer(model, tokenizer, std::move(stream), run.train, topt);
    if (resume_dir) {
      trainer.resume_from(*resume_dir);
      store.truncate_run(run.run_id, trainer.step(), train::checkpoint_name(trainer.step()));
      std::cout << run.run_id << ": resumed from " << *resume_dir << " (step " << trainer.step() << " of "
                << trainer.total_steps() << ")\n";
    } else {
      std::cout << run.run_id << ": " << run.match.config.family << ", " << run.match.cost.params.total
                << " parameters, " << trainer.total_steps() << " steps of " << trainer.tokens_per_step()
                << " tokens on " << record.device << "\n";
    }

    train::TrainerHooks hooks;
    double elapsed = 0;
    hooks.on_log = [&](const train::StepMetrics& m) {
      elapsed = m.elapsed_s;
      results::TrainMetricRow row{m.step, m.tokens, m.loss, m.aux_loss, m.lr, m.grad_norm, m.tokens_per_s,
                                  m.memory_bytes, m.mfu, m.elapsed_s};
      store.write_train_metrics(run.run_id, {row});
    };
    hooks.on_checkpoint = [&](const train::CheckpointInfo& info) {
      store.write_checkpoint(run.run_id, info.name, info.step, info.tokens, fs::weakly_canonical(info.dir).string());
      std::ostringstream line;
      line << "  " << info.name << " (" << info.tokens << " tokens):";
      for (size_t t = 0; t < plan.tasks.size(); ++t) {
        eval::RunOptions eopt;
        eopt.depths = run.eval_depths;
        eopt.batch_size = spec.eval.batch_size;
        eopt.keep_samples = spec.eval.samples;
        const auto result = eval::run_task(trainer.model(), *tokenizer, plan.tasks[t].spec, task_data[t], eopt);
        store.write(run.run_id, info.name, result);
        for (const auto& s : result.scores)
          if (s.metric == plan.tasks[t].metric && s.depth == (run.recurrent ? run.default_depth : s.depth))
            line << " " << plan.tasks[t].spec.name << " " << std::fixed << std::setprecision(3) << s.value;
      }
      store.set_run_progress(run.run_id, "running", info.step, info.tokens, elapsed);
      if (!plan.tasks.empty()) std::cout << line.str() << "\n";
    };
    try {
      const auto last = trainer.run(hooks);
      const bool done = trainer.step() >= trainer.total_steps();
      store.set_run_progress(run.run_id, done ? "finished" : "running", trainer.step(),
                             trainer.step() * trainer.tokens_per_step(), last.elapsed_s);
      if (done)
        std::cout << run.run_id << ": done, loss " << std::fixed << std::setprecision(4) << last.loss << ", "
                  << std::setprecision(1) << last.elapsed_s << " s training\n";
    } catch (...) {
      store.set_run_progress(run.run_id, "failed", trainer.step(), trainer.step() * trainer.tokens_per_step(),
                             elapsed);
      throw;
    }
  }
}

}  // namespace dreamer::experiments
