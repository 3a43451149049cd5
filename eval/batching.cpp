#include "eval/batching.h"

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

torch::Tensor stack_rows(const std::vector<const std::vector<int64_t>*>& rows, int64_t vocab_size) {
  const int64_t t = static_cast<int64_t>(rows.at(0)->size());
  auto out = torch::empty({static_cast<int64_t>(rows.size()), t}, torch::kLong);
  auto acc = out.accessor<int64_t, 2>();
  for (size_t b = 0; b < rows.size(); ++b)
    for (int64_t i = 0; i < t; ++i) {
      const int64_t id = (*rows[b])[i];
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
