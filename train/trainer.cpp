#include "train/trainer.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <limits>
#include <sstream>
#include <stdexcept>

#include "models/blocks/checkpoint.h"
#include "train/checkpoint.h"
#include "train/distributed.h"
#include "train/durable_io.h"
#include "train/loss.h"
#include "train/optim.h"
#include "train/progress.h"
#include "train/run_control.h"
#include "util/device.h"
#include "util/errors.h"
#include "util/fs.h"
#include "util/json_reader.h"

namespace dreamer::train {

using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kStateFile = "trainer_state.json";

// AdamW with two groups: weight decay for the parameters whose role takes it (matrices, not
// norms; models::takes_weight_decay), none for the rest or for a name that contains a
// `no_decay` string.
std::unique_ptr<torch::optim::AdamW> make_optimizer(models::LanguageModel& model,
                                                    const OptimizerSettings& o) {
  std::vector<torch::Tensor> decay, no_decay;
  const models::ParameterRoles roles = model.parameter_roles();
  for (const auto& p : model.named_parameters()) {
    bool exempt = !models::takes_weight_decay(models::role_of(roles, p.key()), p.value());
    for (const auto& pattern : o.no_decay)
      exempt = exempt || p.key().find(pattern) != std::string::npos;
    (exempt ? no_decay : decay).push_back(p.value());
  }
  auto options = [&](double wd) {
    return std::make_unique<torch::optim::AdamWOptions>(
        torch::optim::AdamWOptions(o.lr).betas({o.beta1, o.beta2}).eps(o.eps).weight_decay(wd));
  };
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decay, options(o.weight_decay));
  groups.emplace_back(no_decay, options(0.0));
  // torch::optim::AdamW's update and state, fused on a GPU (train/optim.h).
  return std::make_unique<FusedAdamW>(std::move(groups),
                                      torch::optim::AdamWOptions(o.lr).betas({o.beta1, o.beta2}));
}

void set_learning_rate(torch::optim::AdamW& optimizer, double lr) {
  for (auto& group : optimizer.param_groups())
    static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
}

torch::Tensor cpu_rng_state() {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  return gen.get_state();
}

void set_cpu_rng_state(const torch::Tensor& state) {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(state);
}

}  // namespace

std::string checkpoint_name(int64_t step) {
  char name[32];
  std::snprintf(name, sizeof name, "step-%06lld", static_cast<long long>(step));
  return name;
}

std::optional<std::string> latest_checkpoint(const std::string& run_dir) {
  if (!fs::is_directory(run_dir)) return std::nullopt;
  std::optional<std::string> best;
  std::string best_name;
  for (const auto& name : fs::list_directory(run_dir)) {
    const std::string path = fs::join(run_dir, name);
    // Only renamed (complete) checkpoints: a ".partial" directory is an interrupted write.
    if (!fs::is_directory(path) || name.rfind("step-", 0) != 0 ||
        name.find('.') != std::string::npos)
      continue;
    if (!fs::exists(fs::join(path, kStateFile))) continue;
    if (!best || name > best_name) best = path, best_name = name;
  }
  return best;
}

RngScope::RngScope(const std::string& rng_file) : saved_(cpu_rng_state()) {
  torch::serialize::InputArchive archive;
  archive.load_from(rng_file);
  torch::Tensor state;
  archive.read("cpu_rng_state", state);
  set_cpu_rng_state(state);
}

RngScope::~RngScope() {
  set_cpu_rng_state(saved_);
}

std::string checkpoint_start_id(const std::string& checkpoint_dir) {
  const auto state = read_json_file(fs::join(checkpoint_dir, kStateFile));
  return state.contains("start_id") && state["start_id"].is_string()
             ? state["start_id"].get<std::string>()
             : std::string();
}

TrainingLoss training_loss(models::LanguageModel& model, const torch::Tensor& tokens, bool bf16,
                           int64_t chunk_rows) {
  const int64_t t = tokens.size(1) - 1;
  CudaAutocast autocast(bf16);
  models::ForwardOptions options;
  options.hidden_only = true;  // the head runs inside the chunked loss: no [B, T, V] logits
  auto out = model.forward(tokens.narrow(1, 0, t), nullptr, options);
  const auto head = model.head();
  const auto hidden = out.hidden.reshape({-1, out.hidden.size(-1)});  // [B*T, d]
  auto ce = chunked_linear_cross_entropy(
      hidden, head.weight, head.bias, tokens.narrow(1, 1, t).reshape(-1),
      chunk_rows > 0 ? chunk_rows : cross_entropy_chunk_rows(head.weight.size(0)));
  return {ce, out.aux_loss.to(torch::kFloat32)};
}

struct Trainer::Impl {
  std::optional<data::PackedStream> stream;  // none: train_step() only
  std::unique_ptr<torch::optim::AdamW> optimizer;
  std::vector<torch::Tensor> params;  // the model's, on the device (clipped together)
  // The logging window: sums over the steps since the last log (float64, on the device). Saved
  // in unplanned checkpoints so a resumed run logs the same means an uninterrupted one does.
  torch::Tensor window_ce, window_aux;
  int64_t window_steps = 0;
  int64_t last_checkpoint_step = 0;  // step 0 needs none: the seed reproduces it
  // Data-parallel only (options.group).
  std::unique_ptr<GradientSync> gradients;
  std::unique_ptr<BufferSync> buffers;
};

namespace {
// How long the other ranks wait while rank 0 writes and evaluates a checkpoint.
constexpr std::chrono::hours kCheckpointWait{6};
int world_size(const TrainerOptions& options) {
  return options.group ? options.group->size() : 1;
}
bool writes_files(const TrainerOptions& options) {
  return !options.group || options.group->rank() == 0;
}

// A trainer without a stream has no data to run on and no position to checkpoint.
void require_stream(const std::optional<data::PackedStream>& stream, const char* what) {
  if (!stream)
    throw std::logic_error(std::string("Trainer::") + what +
                           " needs a data stream (this trainer steps on given batches only)");
}
}  // namespace

Trainer::Trainer(models::LanguageModelPtr model, std::shared_ptr<const data::Tokenizer> tokenizer,
                 data::PackedStream stream, TrainSettings settings, TrainerOptions options)
    : Trainer(std::move(model), std::move(tokenizer),
              std::optional<data::PackedStream>(std::move(stream)), 0, std::move(settings),
              std::move(options)) {}

Trainer::Trainer(models::LanguageModelPtr model, int64_t seq_len, TrainSettings settings,
                 TrainerOptions options)
    : Trainer(std::move(model), nullptr, std::nullopt, seq_len, std::move(settings),
              std::move(options)) {}

Trainer::Trainer(models::LanguageModelPtr model, std::shared_ptr<const data::Tokenizer> tokenizer,
                 std::optional<data::PackedStream> stream, int64_t seq_len, TrainSettings settings,
                 TrainerOptions options)
    : model_(std::move(model)),
      tokenizer_(std::move(tokenizer)),
      settings_(std::move(settings)),
      options_(std::move(options)),
      device_(resolve_device(settings_.device, "train.device")),
      impl_(new Impl{std::move(stream), nullptr, {}, {}, {}, 0, 0, nullptr, nullptr}) {
  if (impl_->stream) seq_len = impl_->stream->seq_len();
  require(seq_len >= 1, "workload.seq_len", "must be >= 1");
  require(options_.micro_batch >= 1, "workload.batch", "must be >= 1");
  if (options_.group && device_.is_cuda()) {
    // One GPU per process: torchrun's LOCAL_RANK picks it.
    require(settings_.device == "auto" || settings_.device == "cuda", "train.device",
            "is \"" + settings_.device +
                "\": with several processes each uses cuda:LOCAL_RANK; "
                "write \"cuda\" or \"auto\"");
    device_ =
        c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(options_.group->env().local_rank));
  }
  if (options_.group) check_batch_divisible(options_.micro_batch, options_.group->size());
  tokens_per_step_ = train::tokens_per_step(settings_, options_.micro_batch, seq_len);
  total_steps_ = train::total_steps(settings_, tokens_per_step_);
  model_->to(device_);
  if (options_.group) {
    // Every rank starts from rank 0's weights and buffers, as DDP does.
    auto tensors = model_->parameters();
    for (const auto& b : model_->buffers()) tensors.push_back(b);
    broadcast_from_rank0(*options_.group, tensors);
    impl_->gradients = std::make_unique<GradientSync>(options_.group, model_->parameters());
    impl_->buffers = std::make_unique<BufferSync>(options_.group, model_->buffers());
  }
  impl_->optimizer = make_optimizer(*model_, settings_.optimizer);
  impl_->params = model_->parameters();
  impl_->window_ce =
      torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat64).device(device_));
  impl_->window_aux = impl_->window_ce.clone();
}

Trainer::~Trainer() = default;

CheckpointInfo Trainer::write_checkpoint(bool planned) {
  require_stream(impl_->stream, "write_checkpoint");
  CheckpointInfo info{checkpoint_name(step_), "", step_, step_ * tokens_per_step_, planned};
  const std::string final_dir = fs::join(options_.run_dir, info.name);
  if (!writes_files(options_)) {  // rank 0 writes it (the ranks hold the same state)
    impl_->last_checkpoint_step = step_;
    info.dir = final_dir;
    return info;
  }
  const std::string partial = final_dir + ".partial";
  test_point("checkpoint-begin");
  remove_tree(partial);  // an interrupted write's leftovers
  {
    save_checkpoint(partial, *model_, *tokenizer_);
    {
      torch::serialize::OutputArchive archive;
      impl_->optimizer->save(archive);
      save_archive(archive, fs::join(partial, "optimizer.pt"));
    }
    {
      torch::serialize::OutputArchive archive;
      archive.write("cpu_rng_state", cpu_rng_state());
      save_archive(archive, fs::join(partial, "rng.pt"));
    }
    nlohmann::json state = {{"step", step_},
                            {"tokens", info.tokens},
                            {"total_steps", total_steps_},
                            {"tokens_per_step", tokens_per_step_},
                            {"stream", impl_->stream->position().to_json()},
                            {"settings", settings_.to_json()},
                            {"train_seconds", train_seconds_},
                            {"start_id", options_.start_id},
                            {"world_size", world_size(options_)}};
    if (impl_->window_steps > 0)
      state["window"] = {{"steps", impl_->window_steps},
                         {"ce", impl_->window_ce.item<double>()},
                         {"aux", impl_->window_aux.item<double>()}};
    write_file_durably(fs::join(partial, kStateFile), state.dump(2) + "\n");
    sync_directory(partial);
    test_point("checkpoint-before-rename");
  }
  // Atomic on one filesystem: a reader sees the old checkpoint or the whole new one.
  remove_tree(final_dir);
  rename_durably(partial, final_dir);
  test_point("checkpoint-renamed");
  impl_->last_checkpoint_step = step_;
  info.dir = final_dir;
  return info;
}

void Trainer::resume_from(const std::string& dir) {
  require_stream(impl_->stream, "resume_from");
  const std::string state_file = fs::join(dir, kStateFile);
  require(fs::exists(state_file), dir,
          "not a trainer checkpoint (no " + std::string(kStateFile) + ")");
  const auto state = read_json_file(state_file);
  JsonReader r(state, state_file + ":$");
  int64_t step = 0, tokens = 0, total = 0, per_step = 0;
  double seconds = 0;
  std::string start_id;
  int64_t saved_world = 1;  // checkpoints from before distributed training: one process
  r.get("step", step);
  r.get("world_size", saved_world);
  r.get("tokens", tokens);
  r.get("total_steps", total);
  r.get("tokens_per_step", per_step);
  r.get("train_seconds", seconds);
  r.get("start_id", start_id);
  const auto* stream = r.raw("stream");
  const auto* window = r.raw("window");
  r.mark("settings");
  r.finish();
  require(per_step == tokens_per_step_ && total == total_steps_, state_file,
          "was written with " + std::to_string(total) + " steps of " + std::to_string(per_step) +
              " tokens; this run has " + std::to_string(total_steps_) + " of " +
              std::to_string(tokens_per_step_) +
              " (the experiment changed: start it afresh instead of resuming)");
  require(stream != nullptr, state_file, "has no stream position");
  require(saved_world == world_size(options_), state_file,
          "was written by " + std::to_string(saved_world) + " process(es); this run has " +
              std::to_string(world_size(options_)) +
              " (resume with the same world size, or start afresh)");
  int64_t window_steps = 0;
  double window_ce = 0, window_aux = 0;
  if (window) {
    JsonReader w(*window, state_file + ":$.window");
    w.get("steps", window_steps);
    w.get("ce", window_ce);
    w.get("aux", window_aux);
    w.finish();
  }

  load_weights(dir, *model_);  // checks every tensor's name and shape
  torch::serialize::InputArchive optimizer_archive;
  optimizer_archive.load_from(fs::join(dir, "optimizer.pt"), device_);
  impl_->optimizer->load(optimizer_archive);
  torch::serialize::InputArchive rng_archive;
  rng_archive.load_from(fs::join(dir, "rng.pt"));
  torch::Tensor rng;
  rng_archive.read("cpu_rng_state", rng);
  set_cpu_rng_state(rng);
  impl_->stream->restore(data::StreamPosition::from_json(*stream, state_file + ":$.stream"));
  impl_->window_ce.fill_(window_ce);
  impl_->window_aux.fill_(window_aux);
  impl_->window_steps = window_steps;
  impl_->last_checkpoint_step = step;
  step_ = step;
  train_seconds_ = seconds;
  options_.start_id = start_id;
}

namespace {
// Why a step's numbers mean the run diverged ("" when they do not).
std::string divergence(double loss, double grad_norm, double bound) {
  std::ostringstream why;
  if (!std::isfinite(loss))
    why << "loss is " << loss;
  else if (!std::isfinite(grad_norm))
    why << "gradient norm is " << grad_norm;
  else if (grad_norm > bound)
    why << "gradient norm " << grad_norm << " exceeds " << bound;
  return why.str();
}
}  // namespace

bool Trainer::autocast_bf16() const {
  require(!(settings_.precision == Precision::kBfloat16 && !device_.is_cuda()), "train.precision",
          "bf16 autocast needs a CUDA device (use fp32 or auto on the CPU)");
  return device_.is_cuda() && settings_.precision != Precision::kFloat32;
}

StepResult Trainer::train_step(const std::vector<torch::Tensor>& micro_batches) {
  const int64_t accumulation = settings_.grad_accumulation;
  if (static_cast<int64_t>(micro_batches.size()) != accumulation)
    throw std::invalid_argument("Trainer::train_step: " + std::to_string(micro_batches.size()) +
                                " micro-batches for grad_accumulation " +
                                std::to_string(accumulation));
  const bool bf16 = autocast_bf16();
  // A mode of the thread that trains, like autocast (models/blocks/checkpoint.h).
  models::ActivationCheckpointing checkpointing(options_.activation_checkpointing);
  const double max_norm =
      settings_.grad_clip > 0 ? settings_.grad_clip : std::numeric_limits<double>::infinity();
  if (!model_->is_training()) model_->train();
  StepResult result;
  result.lr = learning_rate(settings_.optimizer, settings_.schedule, step_, total_steps_);
  set_learning_rate(*impl_->optimizer, result.lr);
  impl_->optimizer->zero_grad();
  if (impl_->buffers) impl_->buffers->begin_step();
  auto step_ce = torch::zeros_like(impl_->window_ce), step_aux = torch::zeros_like(step_ce);
  for (int64_t micro = 0; micro < accumulation; ++micro) {
    auto tokens = micro_batches[micro];
    if (options_.group) {
      tokens = rank_rows(tokens, options_.group->rank(), options_.group->size());
      // The last micro-batch's backward all-reduces the accumulated gradients.
      if (micro + 1 == accumulation) impl_->gradients->arm();
    }
    const auto [ce, aux] = training_loss(*model_, tokens.to(device_), bf16);
    ((ce + aux) / static_cast<double>(accumulation)).backward();
    step_ce += ce.detach().to(torch::kFloat64) / accumulation;
    step_aux += aux.detach().to(torch::kFloat64) / accumulation;
  }
  if (options_.group) {
    impl_->gradients->finish();  // every rank now holds the mean gradient
    auto losses = torch::stack({step_ce, step_aux});
    options_.group->all_reduce_sum(losses);
    losses.div_(static_cast<double>(options_.group->size()));
    step_ce = losses[0];
    step_aux = losses[1];
  }
  const torch::Tensor grad_norm = clip_grad_norm(impl_->params, max_norm);
  {
    // Divergence is checked before the step is applied: one host read of the loss and the
    // norm together, the only synchronisation of a step that does not log.
    const auto both = torch::stack({step_ce.detach().to(torch::kFloat64).reshape({}),
                                    grad_norm.detach().to(torch::kFloat64).reshape({})})
                          .cpu();
    result.loss = both[0].item<double>();
    result.grad_norm = both[1].item<double>();
    result.ce = step_ce;
    result.aux = step_aux;
    if (auto why = divergence(result.loss, result.grad_norm, options_.divergence_grad_norm);
        !why.empty()) {
      impl_->optimizer->zero_grad();
      stop_reason_ = StopReason::kDiverged;
      stop_detail_ = why + " at step " + std::to_string(step_ + 1);
      return result;
    }
  }
  impl_->optimizer->step();
  // Router load counts summed over the ranks first, so balancing biases update identically.
  if (impl_->buffers) impl_->buffers->reduce_changes();
  model_->after_optimizer_step();
  ++step_;
  result.applied = true;
  return result;
}

StepMetrics Trainer::run(const TrainerHooks& hooks) {
  require_stream(impl_->stream, "run");
  stop_reason_ = StopReason::kFinished;
  stop_detail_.clear();
  const int64_t end = std::min(total_steps_, options_.stop_after_step.value_or(total_steps_));
  autocast_bf16();  // refuses bf16 without CUDA before anything trains
  const std::optional<double> peak = settings_.peak_flops > 0
                                         ? std::optional<double>(settings_.peak_flops)
                                         : peak_bf16_flops(device_);
  std::set<int64_t> checkpoints = options_.checkpoint_steps;
  checkpoints.insert(total_steps_);

  Progress progress(options_.label, total_steps_, options_.progress);
  model_->train();
  reset_peak_memory(device_);
  const int64_t first_step = step_;
  double session_seconds = 0;
  auto& window_ce = impl_->window_ce;
  auto& window_aux = impl_->window_aux;
  StepMetrics last;
  auto window_start = Clock::now();
  auto add_window_time = [&] {
    const double seconds = std::chrono::duration<double>(Clock::now() - window_start).count();
    session_seconds += seconds;
    train_seconds_ += seconds;
    return seconds;
  };
  auto checkpoint = [&](bool planned) {
    const auto info = write_checkpoint(planned);
    if (hooks.on_checkpoint) {
      progress.finish();
      const auto rng = cpu_rng_state();  // evaluation must not change the training run
      hooks.on_checkpoint(info);
      set_cpu_rng_state(rng);
      model_->train();
    }
    if (options_.group) options_.group->rank0_passed(info.name, kCheckpointWait);
  };
  // A stop signal may reach one rank only: all stop at the same step when any asked.
  bool stopped_by_signal = false;
  auto stop_now = [&] {
    if (!options_.group) return (stopped_by_signal = stop_requested() != 0);
    auto flag = torch::full({1}, stop_requested() ? 1.0 : 0.0,
                            torch::TensorOptions().dtype(torch::kFloat32).device(device_));
    options_.group->all_reduce_sum(flag);
    return (stopped_by_signal = flag.item<double>() > 0);
  };
  double window_seconds = 0;  // training time in the window so far (a pause splits it)

  std::vector<torch::Tensor> micro_batches(settings_.grad_accumulation);
  while (step_ < end && !stop_now()) {
    for (auto& tokens : micro_batches)
      tokens = impl_->stream->next_batch(options_.micro_batch).tokens;
    const StepResult taken = train_step(micro_batches);
    if (!taken.applied) {  // diverged
      add_window_time();
      progress.finish();
      return last;
    }
    window_ce += taken.ce;
    window_aux += taken.aux;
    ++impl_->window_steps;
    test_point("step");

    const bool log_now = step_ % settings_.log_every == 0 || step_ == total_steps_;
    const bool checkpoint_now = checkpoints.count(step_) > 0;
    if (log_now || checkpoint_now) {
      if (device_.is_cuda()) torch::cuda::synchronize(device_.index());
      window_seconds += add_window_time();
      const int64_t window_steps = impl_->window_steps;
      last.step = step_;
      last.tokens = step_ * tokens_per_step_;
      last.loss = window_ce.item<double>() / window_steps;
      last.aux_loss = window_aux.item<double>() / window_steps;
      last.lr = taken.lr;
      last.grad_norm = taken.grad_norm;
      last.tokens_per_s = window_steps * tokens_per_step_ / std::max(window_seconds, 1e-9);
      last.memory_bytes = peak_memory_bytes(device_);
      last.mfu.reset();
      if (peak && options_.train_flops_per_token > 0)
        last.mfu = last.tokens_per_s * options_.train_flops_per_token / *peak;
      last.elapsed_s = train_seconds_;
      if (hooks.on_log) hooks.on_log(last);
      std::ostringstream stats;
      stats << "loss " << std::fixed << std::setprecision(4) << last.loss << " "
            << std::setprecision(0) << last.tokens_per_s << " tok/s";
      progress.update(step_, step_ - first_step, session_seconds, stats.str());
      window_ce.zero_();
      window_aux.zero_();
      impl_->window_steps = 0;
      window_seconds = 0;
      if (checkpoint_now) checkpoint(true);
      window_start = Clock::now();
    }
  }
  if (step_ < total_steps_) {
    // Paused (--max-steps) or stopped by a signal: leave a checkpoint to resume from.
    stop_reason_ =
        stopped_by_signal || stop_requested() ? StopReason::kInterrupted : StopReason::kPaused;
    if (impl_->window_steps > 0) add_window_time();
    if (impl_->last_checkpoint_step != step_) checkpoint(false);
  }
  progress.finish();
  return last;
}

}  // namespace dreamer::train
