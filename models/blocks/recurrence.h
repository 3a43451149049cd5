#pragma once
// How many recurrences a depth-recurrent model runs in one training step.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace dreamer::models {

enum class RecurrenceSampling { kFixed, kPoissonLognormal };

inline const std::vector<std::pair<std::string, RecurrenceSampling>>& recurrence_sampling_names() {
  static const std::vector<std::pair<std::string, RecurrenceSampling>> kNames = {
      {"fixed", RecurrenceSampling::kFixed},
      {"poisson_lognormal", RecurrenceSampling::kPoissonLognormal}};
  return kNames;
}

struct RecurrenceSchedule {
  RecurrenceSampling sampling = RecurrenceSampling::kFixed;
  int64_t mean = 4;            // fixed count, or the mean of the sampled count
  int64_t backprop_depth = 0;  // truncated backprop: gradients through the last k steps (0 = all)
  double sigma = 0.5;          // log-normal spread (Huginn: 0.5)
  int64_t max = 64;            // samples are clipped to [1, max]
};

struct RecurrencePlan {
  int64_t no_grad_steps = 0;  // run first, under NoGradGuard
  int64_t grad_steps = 0;     // run last, with gradients
  int64_t total() const { return no_grad_steps + grad_steps; }
};

// Huginn's randomized_iteration_sampler (Geiping et al. 2025): with t = mean - s and
// s = backprop depth, rate ~ LogNormal(log(t + s) - sigma^2 / 2, sigma), p = Poisson(rate) + 1,
// no-grad steps max(p - s, 0), grad steps min(s, p). Uses torch's global generator, so
// torch::manual_seed makes it reproducible. A fixed schedule gives mean steps (truncated to
// the last backprop_depth when that is set).
RecurrencePlan sample_recurrences(const RecurrenceSchedule& schedule, bool training);

}  // namespace dreamer::models
