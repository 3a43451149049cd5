#include "experiments/runner.h"

#include <torch/torch.h>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <iomanip>
#include <iostream>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "data/mixture.h"
#include "data/packed_stream.h"
#include "data/shards.h"
#include "data/tokenizer.h"
#include "eval/documents.h"
#include "eval/group.h"
#include "eval/metrics.h"
#include "eval/runner.h"
#include "experiments/fingerprint.h"
#include "experiments/follower.h"
#include "experiments/model_shape.h"
#include "results/store.h"
#include "train/checkpoint.h"
#include "train/distributed.h"
#include "train/durable_io.h"
#include "train/run_control.h"
#include "train/trainer.h"
#include "util/device.h"
#include "util/errors.h"
#include "util/fs.h"
#include "zoo/registry.h"

namespace dreamer::experiments {

namespace {

std::string safe_path_part(std::string s) {
  for (auto& c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' ||
          c == '=' || c == ',' || c == '+' || c == '[' || c == ']'))
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
void check_vocabulary(const ModelShape& shape, int64_t vocab, const std::string& where) {
  require(shape.vocab_size >= vocab, where,
          "the model's vocabulary (" + std::to_string(shape.vocab_size) +
              ") is smaller than the tokenizer's (" + std::to_string(vocab) +
              "); set model.vocab_size");
}

}  // namespace

std::string run_directory(const RunnerOptions& options, const PlannedRun& run,
                          const std::string& experiment) {
  return fs::join(options.out_dir, safe_path_part(experiment), safe_path_part(run.arm),
                  "seed" + std::to_string(run.seed));
}

data::PackedStream training_stream(const ExperimentSpec& spec,
                                   std::shared_ptr<const data::Tokenizer> tokenizer, int64_t seed) {
  const std::string where = spec.file + ":$.data.train";
  const int64_t seq_len = spec.matching.workload.seq_len;
  if (data::is_shard_spec(spec.data.train))
    return data::PackedStream(data::open_shards(spec.data.train, *tokenizer, where), seq_len);
  return data::PackedStream(tokenizer, data::Mixture::from_json(spec.data.train, where),
                            static_cast<uint64_t>(seed), seq_len);
}

train::TrainerOptions trainer_options(const ExperimentSpec& spec, const PlannedRun& run) {
  train::TrainerOptions options;
  options.micro_batch = spec.matching.workload.batch;
  options.activation_checkpointing = spec.matching.workload.activation_checkpointing;
  options.checkpoint_steps = {run.eval_steps.begin(), run.eval_steps.end()};
  options.train_flops_per_token = run.match.cost.flops_train_per_token;
  return options;
}

ExperimentPlan plan_experiment(const ExperimentSpec& spec,
                               const std::vector<std::string>& task_dirs) {
  require(spec.has_training, spec.file,
          "has no \"data\" and \"train\": it can be matched (dreamer match) but not trained");
  ExperimentPlan plan;
  plan.spec = spec;
  for (size_t i = 0; i < spec.eval.tasks.size(); ++i) {
    const auto& t = spec.eval.tasks[i];
    plan_eval_entry(t.task, t.metric, t.limit, task_dirs,
                    spec.file + ":$.eval.tasks[" + std::to_string(i) + "]", plan.tasks,
                    plan.groups);
  }

  // Unchecked data (dreamer plan --no-data) leaves the tokenizer file unopened too.
  const auto tokenizer =
      spec.data_checked ? data::make_tokenizer(spec.data.tokenizer, spec.file + ":$.data.tokenizer")
                        : nullptr;
  const auto& workload = spec.matching.workload;
  for (size_t a = 0; a < spec.matching.arms.size(); ++a) {
    const auto& arm = spec.matching.arms[a];
    const std::string path = spec.file + ":$.arms[" + std::to_string(a) + "]";
    auto match = matching::solve(arm, spec.matching.targets, workload, path);
    require(match.within_tolerance, path, match.failure);
    const ModelShape shape = model_shape(match.config);
    if (tokenizer) check_vocabulary(shape, tokenizer->vocab_size(), path + ".model");
    const bool recurrent = shape.recurrent;
    const int64_t default_depth = shape.default_depth;
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
      run.train_flops = match.cost.flops_train_per_token *
                        static_cast<double>(run.total_steps * run.tokens_per_step);
      plan.runs.push_back(std::move(run));
    }
  }
  return plan;
}

train::TrainSettings calibration_settings(const ExperimentPlan& plan, const PlannedRun& run,
                                          const std::string& device, int steps) {
  const auto& w = plan.spec.matching.workload;
  train::TrainSettings settings = run.train;
  settings.device = device;
  // A bf16 run timed on a device without bf16 autocast (--device cpu) is timed in fp32.
  if (settings.precision == train::Precision::kBfloat16 &&
      !resolve_device(device, "--device").is_cuda())
    settings.precision = train::Precision::kFloat32;
  settings.grad_accumulation = 1;
  settings.tokens = (steps + 1) * w.batch * w.seq_len;
  return settings;
}

Calibration calibrate(const ExperimentPlan& plan, const PlannedRun& run,
                      const std::string& device_name, int steps) {
  const auto device = resolve_device(device_name, "--device");
  const auto& w = plan.spec.matching.workload;
  torch::manual_seed(run.seed);
  auto model = zoo::build_model(run.match.config);
  train::TrainerOptions options = trainer_options(plan.spec, run);  // checkpointing as it trains
  options.progress = false;
  train::Trainer trainer(model, w.seq_len, calibration_settings(plan, run, device_name, steps),
                         options);
  const int64_t vocab =
      std::min<int64_t>(256, run.match.config.params.value("vocab_size", int64_t{256}));
  Calibration result;
  auto step = [&] {
    const auto tokens = torch::randint(vocab, {w.batch, w.seq_len + 1}, torch::kLong);
    result.losses.push_back(trainer.train_step({tokens}).loss);
    if (device.is_cuda()) torch::cuda::synchronize(device.index());
  };
  step();  // warm-up: allocations, kernel selection
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < steps; ++i) step();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  result.tokens_per_s = static_cast<double>(steps) * w.batch * w.seq_len / std::max(seconds, 1e-9);
  return result;
}

namespace {

using json = nlohmann::json;

std::string hostname() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0) return "unknown";
  return name;
}

// A run id for this start of a run, recorded in its checkpoints and its row.
std::string new_start_id() {
  std::random_device device;
  std::ostringstream out;
  out << std::hex << std::setfill('0') << std::setw(8) << device() << std::setw(8) << device();
  return out.str();
}

std::string describe(const json& value) {
  return value.is_null() ? "(missing)" : value.dump();
}

// The checkpoints a run's plan evaluates: its eval steps and its last step.
std::vector<int64_t> planned_checkpoints(const PlannedRun& run) {
  std::set<int64_t> steps(run.eval_steps.begin(), run.eval_steps.end());
  steps.insert(run.total_steps);
  return {steps.begin(), steps.end()};
}

int64_t stored_checkpoint_rows(results::ResultStore& store, const std::string& run_id) {
  results::Statement s(store.db(), "SELECT COUNT(*) FROM checkpoints WHERE run_id = ?1");
  s.bind(1, run_id);
  s.step();
  return s.column_int(0);
}

// A lease's holder is gone when it was on this host and its pid no longer exists, or when its
// heartbeat is older than `stale_after_s` (another host, or a process hung that long).
bool lease_is_stale(const results::LeaseHolder& h, double stale_after_s) {
  if (h.host == hostname() && kill(static_cast<pid_t>(h.pid), 0) != 0 && errno == ESRCH)
    return true;
  return h.heartbeat_age_s > stale_after_s;
}

// One process runs a run at a time: the lease row names the holder; a heartbeat thread keeps it
// fresh, so a holder that died (or hangs in one step for longer than the stale limit) loses it.
class Lease {
 public:
  Lease(results::ResultStore& store, const std::string& run_id, double stale_after_s)
      : store_(store),
        db_file_(store.db().file()),
        run_id_(run_id),
        pid_(getpid()),
        host_(hostname()) {
    auto stale = [&](const results::LeaseHolder& h) { return lease_is_stale(h, stale_after_s); };
    if (const auto holder = store.acquire_lease(run_id, pid_, host_, stale))
      throw InputError(run_id, describe_holder(*holder, store.db().file()));
    beat_every_s_ = std::clamp(stale_after_s / 6, 0.05, 10.0);
    heartbeat_ = std::thread([this] { beat(); });
  }
  ~Lease() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done_ = true;
    }
    wake_.notify_all();
    heartbeat_.join();
    try {
      store_.release_lease(run_id_, pid_, host_);
    } catch (...) {  // a lease left behind goes stale; never throw from a destructor
    }
  }
  static std::string describe_holder(const results::LeaseHolder& h, const std::string& db) {
    std::ostringstream out;
    out << "is being run by process " << h.pid << " on " << h.host << " (since " << h.started_at
        << ", last heartbeat " << std::fixed << std::setprecision(0) << h.heartbeat_age_s
        << " s ago; lease in " << db << "): wait for it or stop it";
    return out.str();
  }

 private:
  void beat() {
    std::unique_ptr<results::Database> db;
    std::unique_lock<std::mutex> lock(mutex_);
    while (!wake_.wait_for(lock, std::chrono::duration<double>(beat_every_s_),
                           [this] { return done_; })) {
      try {
        if (!db) db = std::make_unique<results::Database>(db_file_);
        results::Statement(
            *db,
            "UPDATE run_leases SET heartbeat_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') "
            "WHERE run_id = ?1 AND pid = ?2 AND host = ?3")
            .bind_all(run_id_, pid_, host_)
            .run();
      } catch (...) {  // busy: the next beat tries again
      }
    }
  }

  results::ResultStore& store_;
  std::string db_file_, run_id_;
  int64_t pid_;
  std::string host_;
  double beat_every_s_ = 10;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool done_ = false;
  std::thread heartbeat_;
};

enum class Start { kFresh, kForce, kResume };

struct RunAction {
  const PlannedRun* run = nullptr;
  Start start = Start::kFresh;
  std::string dir, resume_dir;
  json fingerprint;
  json allowed = json::array();  // the allowed changes of this and earlier resumes
  std::string start_id;          // resume: the stored start's; otherwise a new one
  bool reevaluate_all = false;   // an allowed change to the evaluation: redo every checkpoint's
};

std::string status_line(const results::StoredRun& stored, const PlannedRun& run) {
  return stored.status + ", " + std::to_string(stored.steps_trained) + "/" +
         std::to_string(run.total_steps) + " steps";
}

// Decides, reading only, what to do with every selected run; refuses (InputError) before
// anything is written when a run exists without --resume/--force, a resume would mix inputs, or
// another process holds a run.
std::vector<RunAction> preflight(const ExperimentPlan& plan, const RunnerOptions& options,
                                 results::ResultStore& store, const data::Tokenizer& tokenizer) {
  const auto& spec = plan.spec;
  std::vector<RunAction> actions;
  std::vector<std::string> existing;
  for (const auto& run : plan.runs) {
    if (!options.shard.holds(static_cast<size_t>(&run - plan.runs.data()))) continue;
    if (!options.arms.empty() &&
        std::find(options.arms.begin(), options.arms.end(), run.arm) == options.arms.end())
      continue;
    RunAction action;
    action.run = &run;
    action.dir = run_directory(options, run, spec.name);
    action.fingerprint = run_fingerprint(plan, run, tokenizer, code_version());
    const auto stored = store.read_run(run.run_id);
    const auto latest = train::latest_checkpoint(action.dir);
    if (const auto holder = store.read_lease(run.run_id);
        holder && !(holder->pid == getpid() && holder->host == hostname()) &&
        !lease_is_stale(*holder, options.lease_stale_after_s))
      throw InputError(run.run_id, Lease::describe_holder(*holder, store.db().file()));

    if (!stored && !latest) {
      action.start = Start::kFresh;
    } else if (options.force) {
      action.start = Start::kForce;
    } else if (!options.resume) {
      existing.push_back(
          run.run_id + " (" + (stored ? status_line(*stored, run) : "no rows") +
          (latest ? ", checkpoints in " + action.dir : std::string(", no checkpoint")) + ")");
      continue;
    } else if (!stored) {
      throw InputError(action.dir,
                       "holds checkpoints of " + run.run_id + " but " + options.db +
                           " has no row for it (another database?): --force starts it afresh");
    } else {
      // Resume: the stored fingerprint must match, but for the allowed fields.
      if (!stored->fingerprint_json.empty()) {
        for (const auto& c :
             fingerprint_changes(json::parse(stored->fingerprint_json), action.fingerprint)) {
          if (!change_allowed(c.path, options.allow_changes))
            throw InputError(run.run_id,
                             c.path + " differs from the run's stored fingerprint (" +
                                 describe(c.before) + " then, " + describe(c.after) +
                                 " now): resuming would mix two setups. "
                                 "--force starts the run afresh; --resume --allow-changes " +
                                 c.path.substr(2) +
                                 " accepts the change (recorded in runs.allowed_changes_json)");
          action.allowed.push_back({{"field", c.path},
                                    {"before", c.before},
                                    {"after", c.after},
                                    {"at_step", stored->steps_trained}});
          if (c.path.rfind("$.eval", 0) == 0) action.reevaluate_all = true;
        }
      } else {
        std::cout << run.run_id
                  << ": stored by an older version without a fingerprint: not checked\n";
      }
      const bool changed = !action.allowed.empty();
      if (!changed && (stored->status == "finished" || stored->status == "diverged")) {
        std::set<std::string> missing;
        for (const auto step : planned_checkpoints(run))
          missing.insert(train::checkpoint_name(step));
        for (const auto& name : store.evaluated_checkpoints(run.run_id)) missing.erase(name);
        if (stored->status == "diverged") {
          std::cout << run.run_id << ": diverged earlier (" << stored->status_detail
                    << "), skipped\n";
          continue;
        }
        if (missing.empty() && latest) {
          std::cout << run.run_id << ": finished earlier, skipped\n";
          continue;
        }
      }
      if (!latest) {
        require(stored_checkpoint_rows(store, run.run_id) == 0, action.dir,
                "has no checkpoint to resume " + run.run_id + " from, but " + options.db +
                    " records checkpoints for it (the directory was moved or deleted?): --force "
                    "starts it afresh");
        action.start = Start::kFresh;  // killed before its first checkpoint: nothing to keep
      } else {
        const auto on_disk = train::checkpoint_start_id(*latest);
        require(on_disk == stored->start_id, *latest,
                "belongs to another start of " + run.run_id + " than the one " + options.db +
                    " records (an interrupted --force?): --force starts it afresh");
        action.start = Start::kResume;
        action.resume_dir = *latest;
      }
      action.start_id = stored->start_id;
      // Earlier resumes' allowed changes first, then this one's.
      if (!stored->allowed_changes_json.empty()) {
        auto all = json::parse(stored->allowed_changes_json);
        for (auto& change : action.allowed) all.push_back(change);
        action.allowed = std::move(all);
      }
    }
    actions.push_back(std::move(action));
  }
  if (!existing.empty()) {
    std::ostringstream what;
    what << existing.size() << " run" << (existing.size() == 1 ? " is" : "s are")
         << " already there: ";
    for (size_t i = 0; i < existing.size(); ++i) what << (i ? ", " : "") << existing[i];
    what << ". Run again with --resume to continue unfinished runs from their newest checkpoints "
            "(finished runs are skipped), or with --force to start them afresh (each run's rows "
            "and checkpoints are replaced once the new run has written its first checkpoint)";
    throw InputError(spec.file, what.str());
  }
  return actions;
}

// What rank 0 tells the other ranks of a data-parallel run (experiments/follower.h): the
// decided actions, then "go" or "stop" before each run. When rank 0 fails, the destructor tells
// them to stop instead of leaving them waiting for the store's timeout.
class FollowerNotice {
 public:
  explicit FollowerNotice(train::ProcessGroup* group) : group_(group) {}
  void send_actions(const std::vector<RunAction>& actions) {
    if (!group_) return;
    std::vector<FollowerAction> list;
    for (const auto& a : actions)
      list.push_back({a.run->run_id, a.start == Start::kForce ? a.dir + ".restart" : a.dir,
                      a.resume_dir, a.start_id});
    group_->publish("actions", actions_to_json(list).dump());
    actions_sent_ = true;
    runs_ = actions.size();
  }
  // Tells followers waiting for a next run that there is none (before finish_together).
  void stop_waiting() {
    if (group_ && actions_sent_ && next_ < runs_)
      group_->publish("run/" + std::to_string(next_), "stop");
    next_ = runs_;
  }
  void start_run(size_t i) {
    if (group_) group_->publish("run/" + std::to_string(i), "go");
    next_ = i + 1;
  }
  ~FollowerNotice() {
    if (!group_) return;
    try {
      if (!actions_sent_)
        group_->publish("actions", json{{"error", "see rank 0's output"}}.dump());
      else if (next_ < runs_)
        group_->publish("run/" + std::to_string(next_), "stop");
    } catch (...) {  // the followers' own timeout ends them
    }
  }

 private:
  train::ProcessGroup* group_;
  bool actions_sent_ = false;
  size_t runs_ = 0, next_ = 0;
};

}  // namespace

RunSummary run_experiment(const ExperimentPlan& plan, const RunnerOptions& options) {
  if (options.group && options.group->rank() != 0) return follow_rank0(plan, options);
  FollowerNotice followers(options.group.get());
  const auto& spec = plan.spec;
  for (const auto& arm : options.arms) {
    bool known = false;
    for (const auto& run : plan.runs) known = known || run.arm == arm;
    require(known, "--arm", "\"" + arm + "\" is not an arm of " + spec.file);
  }
  require(!(options.resume && options.force), "--force", "cannot be combined with --resume");
  require(options.allow_changes.empty() || options.resume, "--allow-changes", "needs --resume");

  const auto tokenizer = data::make_tokenizer(spec.data.tokenizer, spec.file + ":$.data.tokenizer");
  const std::string data_root =
      options.data_root.empty() ? eval::default_data_root() : options.data_root;
  std::vector<eval::TaskData> task_data;
  for (const auto& t : plan.tasks)
    task_data.push_back(
        eval::load_task_data(t.spec, data_root, eval::builtin_synthetic_sources(), t.limit));

  results::ResultStore store(options.db);
  auto actions = preflight(plan, options, store, *tokenizer);
  for (auto& action : actions)
    if (action.start != Start::kResume) action.start_id = new_start_id();
  followers.send_actions(actions);
  // The checks passed: from here on the database and the run directories change.
  std::vector<results::ReportTask> tasks;
  for (const auto& t : plan.tasks)
    if (!t.in_group) tasks.push_back({t.spec.name, t.metric, t.higher_is_better});
  for (const auto& g : plan.groups) tasks.push_back({g.spec.name, g.metric, g.higher_is_better});
  store.write_experiment(spec.name, fs::weakly_canonical(spec.file), spec.resolved.dump(),
                         spec.reference_arm, tasks);

  RunSummary summary;
  for (size_t action_index = 0; action_index < actions.size(); ++action_index) {
    const auto& action = actions[action_index];
    if (const int signal = train::stop_requested()) {
      summary.interrupted_by = signal;
      break;
    }
    followers.start_run(action_index);
    const auto& run = *action.run;
    Lease lease(store, run.run_id, options.lease_stale_after_s);
    const std::string& dir = action.dir;
    // A forced restart trains into a staging directory; it replaces the old run's directory and
    // rows together at its first checkpoint (until then a kill loses nothing that was stored).
    const std::string staging = dir + ".restart", replaced = dir + ".replaced";
    bool force_pending = action.start == Start::kForce;

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
    record.fingerprint_json = action.fingerprint.dump();
    record.allowed_changes_json = action.allowed.empty() ? "" : action.allowed.dump();

    torch::manual_seed(run.seed);
    auto model = zoo::build_model(run.match.config);
    // Shards keep their own order for every seed (seeds then differ in initialisation and
    // recurrence sampling only); document sources are drawn under the run's seed.
    data::PackedStream stream = training_stream(spec, tokenizer, run.seed);
    train::TrainerOptions topt = trainer_options(spec, run);
    topt.run_dir = force_pending ? staging : dir;
    topt.stop_after_step = options.stop_after_step;
    topt.progress = options.progress;
    topt.label = run.arm + "/seed" + std::to_string(run.seed);
    topt.start_id = action.start_id;  // a resume's stored one, else new (set after preflight)
    topt.group = options.group;
    record.start_id = topt.start_id;
    if (force_pending) train::remove_tree(staging);
    train::make_directories(topt.run_dir);
    train::Trainer trainer(model, tokenizer, std::move(stream), run.train, topt);

    eval::RunOptions eopt;
    eopt.depths = run.eval_depths;
    eopt.batch_size = spec.eval.batch_size;
    eopt.keep_samples = spec.eval.samples;
    // Scores of every task at one checkpoint; the checkpoint counts as evaluated only when all
    // are stored, so a kill in between leaves it to be evaluated again on resume.
    auto evaluate = [&](models::LanguageModel& m, const train::CheckpointInfo& info) {
      std::ostringstream line;
      line << "  " << info.name << " (" << info.tokens << " tokens):";
      std::vector<eval::TaskResult> results;
      auto show = [&](const eval::TaskResult& result, const std::string& metric) {
        for (const auto& sc : result.scores)
          if (sc.metric == metric && sc.depth == (run.recurrent ? run.default_depth : sc.depth))
            line << " " << result.task << " " << std::fixed << std::setprecision(3) << sc.value;
      };
      for (size_t t = 0; t < plan.tasks.size(); ++t) {
        train::test_point("eval-task");
        results.push_back(eval::run_task(m, *tokenizer, plan.tasks[t].spec, task_data[t], eopt));
        store.write(run.run_id, info.name, results.back());
        train::test_point("eval-stored");
        if (!plan.tasks[t].in_group) show(results.back(), plan.tasks[t].metric);
      }
      for (const auto& g : plan.groups) {
        std::vector<eval::TaskResult> parts;
        for (size_t t : g.subtasks) parts.push_back(results[t]);
        const auto group = eval::aggregate_group(g.spec, parts);
        store.write(run.run_id, info.name, group);
        show(group, g.metric);
      }
      store.mark_evaluated(run.run_id, info.name);
      if (!plan.tasks.empty()) std::cout << line.str() << "\n";
    };

    std::vector<results::TrainMetricRow>
        held_metrics;  // a forced restart's, until it replaces the old run
    auto commit_force = [&](const std::optional<train::CheckpointInfo>& first) {
      train::remove_tree(replaced);
      if (fs::exists(dir)) train::rename_durably(dir, replaced);
      train::rename_durably(staging, dir);
      trainer.set_run_dir(dir);
      std::optional<results::CheckpointRow> row;
      if (first && first->planned)
        row = results::CheckpointRow{first->name, first->step, first->tokens,
                                     fs::weakly_canonical(fs::join(dir, first->name))};
      store.start_run(record, row);
      store.write_train_metrics(run.run_id, held_metrics);
      held_metrics.clear();
      force_pending = false;
      train::remove_tree(replaced);
    };

    if (action.start == Start::kFresh) {
      store.start_run(record);
      std::cout << run.run_id << ": " << run.match.config.family << ", "
                << run.match.cost.params.total << " parameters, " << trainer.total_steps()
                << " steps of " << trainer.tokens_per_step() << " tokens on " << record.device
                << "\n";
    } else if (action.start == Start::kForce) {
      std::cout
          << run.run_id
          << ": starting afresh (--force); the stored run is replaced at the first checkpoint\n";
    } else {
      trainer.resume_from(action.resume_dir);
      const std::string name = train::checkpoint_name(trainer.step());
      store.resume_run(record, trainer.step(), name, trainer.step() * trainer.tokens_per_step(),
                       trainer.train_seconds());
      std::cout << run.run_id << ": resumed from " << action.resume_dir << " (step "
                << trainer.step() << " of " << trainer.total_steps() << ")\n";
      // Planned checkpoints up to here whose evaluation was never stored (a kill between the
      // checkpoint and its scores): evaluate them now, as they would have been then.
      const auto evaluated = store.evaluated_checkpoints(run.run_id);
      for (const auto step : planned_checkpoints(run)) {
        const std::string ck = train::checkpoint_name(step);
        if (step > trainer.step() || (evaluated.count(ck) && !action.reevaluate_all)) continue;
        const std::string ck_dir = fs::join(dir, ck);
        require(fs::is_directory(ck_dir), ck_dir,
                "is missing, so its evaluation cannot be redone: --force starts " + run.run_id +
                    " afresh");
        train::CheckpointInfo info{ck, ck_dir, step, step * trainer.tokens_per_step(), true};
        store.write_checkpoint(run.run_id, ck, step, info.tokens, fs::weakly_canonical(ck_dir));
        std::cout << "  evaluating " << ck << " (its scores were not stored)\n";
        auto loaded = train::load_checkpoint(ck_dir);
        loaded.model->to(trainer.device());
        train::RngScope rng(fs::join(ck_dir, "rng.pt"));  // the state evaluation saw then
        evaluate(*loaded.model, info);
      }
    }

    // The other ranks wait here while rank 0 evaluates checkpoints whose scores were lost.
    if (options.group) options.group->rank0_passed("start " + run.run_id, std::chrono::hours(6));

    train::TrainerHooks hooks;
    hooks.on_log = [&](const train::StepMetrics& m) {
      results::TrainMetricRow row{m.step, m.tokens,    m.loss,         m.aux_loss,
                                  m.lr,   m.grad_norm, m.tokens_per_s, m.memory_bytes,
                                  m.mfu,  m.elapsed_s};
      if (force_pending)
        held_metrics.push_back(row);
      else
        store.write_train_metrics(run.run_id, {row});
    };
    hooks.on_checkpoint = [&](const train::CheckpointInfo& info) {
      if (force_pending) {
        commit_force(info);
      } else if (info.planned) {
        store.write_checkpoint(run.run_id, info.name, info.step, info.tokens,
                               fs::weakly_canonical(fs::join(dir, info.name)));
      }
      if (info.planned) evaluate(trainer.model(), info);
      store.set_run_progress(run.run_id, "running", info.step, info.tokens,
                             trainer.train_seconds());
    };
    const auto tokens_now = [&] { return trainer.step() * trainer.tokens_per_step(); };
    try {
      const auto last = trainer.run(hooks);
      switch (trainer.stop_reason()) {
        case train::StopReason::kFinished: {
          std::vector<std::string> missing;
          const auto evaluated = store.evaluated_checkpoints(run.run_id);
          for (const auto step : planned_checkpoints(run))
            if (!evaluated.count(train::checkpoint_name(step)))
              missing.push_back(train::checkpoint_name(step));
          std::string detail;
          for (const auto& m : missing)
            detail += (detail.empty() ? "evaluations missing: " : ", ") + m;
          store.set_run_progress(run.run_id, missing.empty() ? "finished" : "failed",
                                 trainer.step(), tokens_now(), trainer.train_seconds(), detail);
          require(missing.empty(), run.run_id, detail);
          std::cout << run.run_id << ": done, loss " << std::fixed << std::setprecision(4)
                    << last.loss << ", " << std::setprecision(1) << trainer.train_seconds()
                    << " s training\n";
          break;
        }
        case train::StopReason::kPaused:
          store.set_run_progress(run.run_id, "paused", trainer.step(), tokens_now(),
                                 trainer.train_seconds());
          std::cout << run.run_id << ": paused at step " << trainer.step()
                    << " (continue with --resume)\n";
          summary.paused.push_back(run.run_id);
          break;
        case train::StopReason::kInterrupted:
          if (force_pending) {
            train::remove_tree(staging);
            std::cout << run.run_id
                      << ": interrupted before its first checkpoint; the stored run is kept\n";
          } else {
            store.set_run_progress(run.run_id, "interrupted", trainer.step(), tokens_now(),
                                   trainer.train_seconds());
            std::cout << run.run_id << ": interrupted at step " << trainer.step()
                      << " (continue with --resume)\n";
          }
          summary.interrupted_by = train::stop_requested();
          break;
        case train::StopReason::kDiverged:
          if (force_pending) commit_force(std::nullopt);
          store.set_run_progress(run.run_id, "diverged", trainer.step(), tokens_now(),
                                 trainer.train_seconds(), trainer.stop_detail());
          std::cout << run.run_id << ": diverged (" << trainer.stop_detail()
                    << "); the other runs continue\n";
          summary.diverged.push_back(run.run_id + ": " + trainer.stop_detail());
          break;
      }
    } catch (const std::exception& e) {
      if (!force_pending) {
        try {
          store.set_run_progress(run.run_id, "failed", trainer.step(), tokens_now(),
                                 trainer.train_seconds(), e.what());
        } catch (...) {  // the database itself failed: the first error is the one to report
        }
      }
      throw;
    }
    if (summary.interrupted_by) break;
  }
  if (options.group) {
    followers.stop_waiting();
    options.group->finish_together();
  }
  return summary;
}

}  // namespace dreamer::experiments
