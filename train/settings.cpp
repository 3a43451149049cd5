#include "train/settings.h"

#include <algorithm>
#include <cmath>

#include "util/json_reader.h"

namespace dreamer::train {

namespace {

const std::vector<std::pair<std::string, ScheduleKind>> kSchedules = {
    {"constant", ScheduleKind::kConstant},
    {"cosine", ScheduleKind::kCosine},
    {"wsd", ScheduleKind::kWsd}};
const std::vector<std::pair<std::string, Precision>> kPrecisions = {
    {"auto", Precision::kAuto}, {"fp32", Precision::kFloat32}, {"bf16", Precision::kBfloat16}};

OptimizerSettings parse_optimizer(JsonReader r) {
  OptimizerSettings o;
  std::string type = "adamw";
  r.get("type", type);
  require(type == "adamw", r.path_of("type"),
          "expected \"adamw\" (the only optimizer so far), got \"" + type + "\"");
  r.get("lr", o.lr);
  if (const auto* betas = r.raw("betas")) {
    require(betas->is_array() && betas->size() == 2 && (*betas)[0].is_number() &&
                (*betas)[1].is_number(),
            r.path_of("betas"), "expected [beta1, beta2]");
    o.beta1 = (*betas)[0].get<double>();
    o.beta2 = (*betas)[1].get<double>();
  }
  r.get("eps", o.eps);
  r.get("weight_decay", o.weight_decay);
  r.get("no_decay", o.no_decay);
  r.finish();
  require(o.lr > 0, r.path_of("lr"), "must be positive");
  require(o.beta1 >= 0 && o.beta1 < 1 && o.beta2 >= 0 && o.beta2 < 1, r.path_of("betas"),
          "each must lie in [0, 1)");
  require(o.eps > 0, r.path_of("eps"), "must be positive");
  require(o.weight_decay >= 0, r.path_of("weight_decay"), "must be >= 0");
  return o;
}

ScheduleSettings parse_schedule(JsonReader r) {
  ScheduleSettings s;
  r.get_enum("type", s.kind, kSchedules);
  r.get("warmup", s.warmup);
  r.get("decay", s.decay);
  r.get("min_lr_ratio", s.min_lr_ratio);
  r.finish();
  require(s.warmup >= 0, r.path_of("warmup"),
          "must be >= 0 (a fraction of the steps, or steps when >= 1)");
  require(s.decay > 0 && s.decay <= 1, r.path_of("decay"), "must lie in (0, 1]");
  require(s.min_lr_ratio >= 0 && s.min_lr_ratio <= 1, r.path_of("min_lr_ratio"),
          "must lie in [0, 1]");
  return s;
}

}  // namespace

TrainSettings TrainSettings::from_json(const nlohmann::json& j, const std::string& path) {
  require(j.is_object(), path, "expected an object");
  JsonReader r(j, path);
  TrainSettings t;
  double tokens = 0;  // accepts 2e6 as well as 2000000
  r.get("tokens", tokens);
  t.tokens = static_cast<int64_t>(std::llround(tokens));
  r.get("grad_accumulation", t.grad_accumulation);
  t.optimizer = parse_optimizer(r.child("optimizer"));
  t.schedule = parse_schedule(r.child("schedule"));
  r.get("grad_clip", t.grad_clip);
  r.get_enum("precision", t.precision, kPrecisions);
  r.get("device", t.device);
  r.get("log_every", t.log_every);
  r.get("peak_flops", t.peak_flops);
  r.finish();
  require(t.tokens > 0, r.path_of("tokens"), "required: the training budget in tokens (> 0)");
  require(t.grad_accumulation >= 1, r.path_of("grad_accumulation"), "must be >= 1");
  require(t.grad_clip >= 0, r.path_of("grad_clip"), "must be >= 0 (0 = no clipping)");
  require(t.log_every >= 1, r.path_of("log_every"), "must be >= 1");
  require(t.peak_flops >= 0, r.path_of("peak_flops"), "must be >= 0");
  const bool known_device = t.device == "auto" || t.device == "cpu" || t.device == "cuda" ||
                            t.device.rfind("cuda:", 0) == 0;
  require(known_device, r.path_of("device"),
          "expected auto, cpu, cuda or cuda:N, got \"" + t.device + "\"");
  return t;
}

nlohmann::json TrainSettings::to_json() const {
  return {{"tokens", tokens},
          {"grad_accumulation", grad_accumulation},
          {"optimizer",
           {{"type", "adamw"},
            {"lr", optimizer.lr},
            {"betas", {optimizer.beta1, optimizer.beta2}},
            {"eps", optimizer.eps},
            {"weight_decay", optimizer.weight_decay},
            {"no_decay", optimizer.no_decay}}},
          {"schedule",
           {{"type", enum_name(schedule.kind, kSchedules)},
            {"warmup", schedule.warmup},
            {"decay", schedule.decay},
            {"min_lr_ratio", schedule.min_lr_ratio}}},
          {"grad_clip", grad_clip},
          {"precision", enum_name(precision, kPrecisions)},
          {"device", device},
          {"log_every", log_every},
          {"peak_flops", peak_flops}};
}

int64_t tokens_per_step(const TrainSettings& settings, int64_t micro_batch, int64_t seq_len) {
  return micro_batch * seq_len * settings.grad_accumulation;
}

int64_t total_steps(const TrainSettings& settings, int64_t tokens_per_step) {
  return std::max<int64_t>(1, settings.tokens / tokens_per_step);
}

int64_t warmup_steps(const ScheduleSettings& schedule, int64_t total_steps) {
  const double w = schedule.warmup >= 1 ? schedule.warmup : schedule.warmup * total_steps;
  return std::clamp<int64_t>(static_cast<int64_t>(std::llround(w)), 0, total_steps);
}

double learning_rate(const OptimizerSettings& optimizer, const ScheduleSettings& schedule,
                     int64_t step, int64_t total_steps) {
  const double peak = optimizer.lr, low = optimizer.lr * schedule.min_lr_ratio;
  const int64_t warmup = warmup_steps(schedule, total_steps);
  if (step < warmup) return peak * static_cast<double>(step + 1) / warmup;
  switch (schedule.kind) {
    case ScheduleKind::kConstant:
      return peak;
    case ScheduleKind::kCosine: {
      // From the peak at the first step after warmup to `low` at the last step.
      const int64_t span = std::max<int64_t>(1, total_steps - 1 - warmup);
      const double p = std::clamp(static_cast<double>(step - warmup) / span, 0.0, 1.0);
      return low + (peak - low) * 0.5 * (1 + std::cos(M_PI * p));
    }
    case ScheduleKind::kWsd: {
      // Stable at the peak, then linear to `low` over the last `decay` fraction of the steps.
      const int64_t decay_steps = std::max<int64_t>(1, std::llround(schedule.decay * total_steps));
      const int64_t decay_start = std::max(warmup, total_steps - decay_steps);
      if (step < decay_start) return peak;
      const double p = std::clamp(static_cast<double>(step - decay_start + 1) /
                                      std::max<int64_t>(1, total_steps - decay_start),
                                  0.0, 1.0);
      return peak + (low - peak) * p;
    }
  }
  return peak;
}

}  // namespace dreamer::train
