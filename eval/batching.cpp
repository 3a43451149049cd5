#include "eval/batching.h"

#include <algorithm>
#include <limits>
#include <map>

#include "util/errors.h"

namespace dreamer::eval {

std::vector<std::vector<size_t>> group_by_length(const std::vector<size_t>& lengths,
                                                 int64_t batch_size) {
  std::map<size_t, std::vector<size_t>, std::greater<>> by_length;
  for (size_t i = 0; i < lengths.size(); ++i) by_length[lengths[i]].push_back(i);
  std::vector<std::vector<size_t>> batches;
  for (const auto& [length, indices] : by_length)
    for (size_t start = 0; start < indices.size(); start += static_cast<size_t>(batch_size))
      batches.emplace_back(
          indices.begin() + start,
          indices.begin() + std::min(indices.size(), start + static_cast<size_t>(batch_size)));
  return batches;
}

namespace {
// Indices in order of decreasing length, ties by index.
std::vector<size_t> longest_first(const std::vector<size_t>& lengths) {
  std::vector<size_t> order(lengths.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return lengths[a] > lengths[b]; });
  return order;
}
}  // namespace

std::vector<std::vector<size_t>> group_by_similar_length(const std::vector<size_t>& lengths,
                                                         int64_t batch_size) {
  const auto order = longest_first(lengths);
  std::vector<std::vector<size_t>> batches;
  for (size_t start = 0; start < order.size(); start += static_cast<size_t>(batch_size))
    batches.emplace_back(
        order.begin() + start,
        order.begin() + std::min(order.size(), start + static_cast<size_t>(batch_size)));
  return batches;
}

std::vector<std::vector<size_t>> group_for_generation(const std::vector<size_t>& lengths,
                                                      int64_t batch_size, int64_t budget) {
  require(batch_size > 0, "batch_size", "must be positive");
  const size_t n = lengths.size(), cap = static_cast<size_t>(batch_size);
  const auto order = longest_first(lengths);
  // cost[i]: the fewest steps for the first i prompts in order; size[i]: its last batch's size.
  std::vector<int64_t> cost(n + 1, 0);
  std::vector<size_t> size(n + 1, 0);
  for (size_t i = 1; i <= n; ++i) {
    cost[i] = std::numeric_limits<int64_t>::max();
    const auto shortest = static_cast<int64_t>(lengths[order[i - 1]]);
    for (size_t k = std::min(cap, i); k >= 1; --k) {  // largest batch first: ties keep it
      const int64_t c =
          cost[i - k] + static_cast<int64_t>(lengths[order[i - k]]) - shortest + budget;
      if (c < cost[i]) {
        cost[i] = c;
        size[i] = k;
      }
    }
  }
  std::vector<std::vector<size_t>> batches;
  for (size_t i = n; i > 0; i -= size[i])
    batches.emplace_back(order.begin() + (i - size[i]), order.begin() + i);
  std::reverse(batches.begin(), batches.end());
  return batches;
}

int64_t generation_steps(const std::vector<size_t>& lengths,
                         const std::vector<std::vector<size_t>>& batches, int64_t budget) {
  int64_t steps = 0;
  for (const auto& batch : batches) {
    size_t longest = 0, shortest = std::numeric_limits<size_t>::max();
    for (size_t i : batch) {
      longest = std::max(longest, lengths[i]);
      shortest = std::min(shortest, lengths[i]);
    }
    if (!batch.empty()) steps += static_cast<int64_t>(longest - shortest) + budget;
  }
  return steps;
}

std::vector<std::vector<size_t>> make_batches(const std::vector<size_t>& lengths,
                                              const ScoringOptions& options) {
  return options.mixed_lengths ? group_by_similar_length(lengths, options.batch_size)
                               : group_by_length(lengths, options.batch_size);
}

torch::Tensor stack_rows(const std::vector<const std::vector<int64_t>*>& rows, int64_t vocab_size,
                         int64_t columns) {
  int64_t t = columns;
  if (t < 0)
    for (const auto* row : rows) t = std::max(t, static_cast<int64_t>(row->size()));
  auto out = torch::empty({static_cast<int64_t>(rows.size()), t}, torch::kLong);
  auto acc = out.accessor<int64_t, 2>();
  for (size_t b = 0; b < rows.size(); ++b)
    for (int64_t i = 0; i < t; ++i) {
      const auto& row = *rows[b];
      const int64_t id = row[std::min(static_cast<size_t>(i), row.size() - 1)];
      if (vocab_size > 0 && (id < 0 || id >= vocab_size))
        throw InputError("tokens", "id " + std::to_string(id) +
                                       " is outside the model's vocabulary of " +
                                       std::to_string(vocab_size) +
                                       " (does the tokenizer match the checkpoint?)");
      acc[b][i] = id;
    }
  return out;
}

models::RoutingTrace select_tokens(const models::RoutingTrace& trace, const torch::Tensor& keep) {
  models::RoutingTrace out;
  auto index = keep.nonzero().squeeze(1);
  for (const auto& r : trace.records)
    out.records.push_back({r.site, r.depth, r.n_experts, r.expert_ids.index_select(0, index),
                           r.gates.index_select(0, index), r.pool});
  return out;
}

torch::Device model_device(const models::LanguageModel& model) {
  const auto params = model.parameters();
  return params.empty() ? torch::Device(torch::kCPU) : params.front().device();
}

}  // namespace dreamer::eval
