#include "models/blocks/recurrence.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace dreamer::models {

namespace {

// `total` steps, the last min(backprop_depth, total) of them with gradients while training.
RecurrencePlan split(int64_t total, int64_t backprop_depth, bool training) {
  RecurrencePlan plan;
  if (!training || backprop_depth <= 0) {
    plan.grad_steps = total;
  } else {
    plan.grad_steps = std::min(backprop_depth, total);
    plan.no_grad_steps = total - plan.grad_steps;
  }
  return plan;
}

}  // namespace

RecurrencePlan sample_recurrences(const RecurrenceSchedule& s, bool training) {
  int64_t total = s.mean;
  if (training && s.sampling == RecurrenceSampling::kPoissonLognormal) {
    const double mu = std::log(static_cast<double>(s.mean)) - s.sigma * s.sigma / 2.0;
    auto rate = torch::empty({1}, torch::kFloat64).log_normal_(mu, s.sigma);
    total = torch::poisson(rate).item<int64_t>() + 1;
    total = std::clamp<int64_t>(total, 1, s.max);
  }
  return split(total, s.backprop_depth, training);
}

RecurrencePlan plan_recurrences(const RecurrenceSchedule& schedule, const ForwardOptions& options,
                                const InferenceState* state, bool training) {
  const int64_t fixed_by_state = state ? state->recurrences : 0;
  RecurrencePlan plan;
  if (options.recurrences > 0)
    plan = split(options.recurrences, schedule.backprop_depth, training);
  else if (fixed_by_state > 0)
    plan = split(fixed_by_state, schedule.backprop_depth, training);
  else
    plan = sample_recurrences(schedule, training);
  if (fixed_by_state > 0 && plan.total() != fixed_by_state)
    throw std::invalid_argument("decoding state was started with " +
                                std::to_string(fixed_by_state) + " recurrences, not " +
                                std::to_string(plan.total()));
  return plan;
}

}  // namespace dreamer::models
