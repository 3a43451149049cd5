#pragma once
// How many recurrences a depth-recurrent model runs in one forward call, and through how many
// of them gradients flow. Every recurrent family (Dreamer, Huginn, the Universal Transformer)
// plans its recurrences with plan_recurrences() below, so one set of inputs means one plan.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "models/model.h"

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

// The plan of one forward call. The count comes from, in this order: options.recurrences
// (when > 0), the decoding state's fixed count (when the state was started), the schedule
// (sampled during training, its mean at evaluation). Truncated backprop is a property of
// training, not of where the count came from: during training any count R, explicit or
// sampled, runs its first R - min(backprop_depth, R) steps without gradients; at evaluation
// every step is a gradient step (nothing is ever backpropagated there). Throws
// std::invalid_argument when a started decoding state is asked for a different count.
RecurrencePlan plan_recurrences(const RecurrenceSchedule& schedule, const ForwardOptions& options,
                                const InferenceState* state, bool training);

// Huginn's randomized_iteration_sampler (Geiping et al. 2025): with t = mean - s and
// s = backprop depth, rate ~ LogNormal(log(t + s) - sigma^2 / 2, sigma), p = Poisson(rate) + 1,
// no-grad steps max(p - s, 0), grad steps min(s, p). Uses torch's global generator, so
// torch::manual_seed makes it reproducible. A fixed schedule, or evaluation, gives mean steps
// (split as above during training).
RecurrencePlan sample_recurrences(const RecurrenceSchedule& schedule, bool training);

}  // namespace dreamer::models
