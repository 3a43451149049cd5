#include "models/blocks/recurrence.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

namespace dreamer::models {

RecurrencePlan sample_recurrences(const RecurrenceSchedule& s, bool training) {
  int64_t total = s.mean;
  if (training && s.sampling == RecurrenceSampling::kPoissonLognormal) {
    const double mu = std::log(static_cast<double>(s.mean)) - s.sigma * s.sigma / 2.0;
    auto rate = torch::empty({1}, torch::kFloat64).log_normal_(mu, s.sigma);
    total = torch::poisson(rate).item<int64_t>() + 1;
    total = std::clamp<int64_t>(total, 1, s.max);
  }
  RecurrencePlan plan;
  if (!training || s.backprop_depth <= 0) {
    plan.grad_steps = total;
  } else {
    plan.grad_steps = std::min(s.backprop_depth, total);
    plan.no_grad_steps = total - plan.grad_steps;
  }
  return plan;
}

}  // namespace dreamer::models
