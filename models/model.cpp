#include "models/model.h"

#include <algorithm>

namespace dreamer::models {

std::pair<torch::Tensor, torch::Tensor> KVCache::append(const torch::Tensor& k_new,
                                                        const torch::Tensor& v_new) {
  const int64_t t = k_new.size(2), needed = used + t;
  if (!k.defined() || needed > k.size(2)) {
    const int64_t allocated =
        k.defined() ? std::max(needed, 2 * k.size(2)) : std::max(needed, capacity);
    auto grow = [&](const torch::Tensor& old, const torch::Tensor& like) {
      auto sizes = like.sizes().vec();
      sizes[2] = allocated;
      auto buffer = torch::empty(sizes, like.options());
      if (used > 0) buffer.narrow(2, 0, used).copy_(old.narrow(2, 0, used));
      return buffer;
    };
    k = grow(k, k_new);
    v = grow(v, v_new);
  }
  k.narrow(2, used, t).copy_(k_new);
  v.narrow(2, used, t).copy_(v_new);
  used = needed;
  return {k.narrow(2, 0, used), v.narrow(2, 0, used)};
}

void InferenceState::allocate(size_t n_sequence, size_t n_depth) {
  sequence.assign(n_sequence, KVCache{});
  depth.assign(n_depth, KVCache{});
  for (auto& c : sequence) c.capacity = capacity;
  for (auto& c : depth) c.capacity = capacity;
}

void finish_output(ModelOutput& out, const torch::Tensor& y, const HeadWeights& head,
                   const ForwardOptions& options) {
  if (options.hidden_only) {
    out.hidden = y;
  } else {
    const auto rows = options.last_logits_only ? y.narrow(1, y.size(1) - 1, 1) : y;
    out.logits = torch::linear(rows, head.weight, head.bias).to(torch::kFloat32);
  }
  out.aux_loss = torch::zeros({}, y.options().dtype(torch::kFloat32));
}

HeadWeights LanguageModel::head() const {
  throw std::logic_error("model family " + config_.family + " exposes no LM head");
}

ParameterCounts count_parameters(const LanguageModel& model) {
  ParameterCounts counts;
  const ParameterRoles roles = model.parameter_roles();
  for (const auto& item : model.named_parameters(/*recurse=*/true)) {
    const int64_t n = item.value().numel();
    counts.total += n;
    if (counts_as_embedding(role_of(roles, item.key()))) counts.embedding += n;
  }
  counts.non_embedding = counts.total - counts.embedding;
  return counts;
}

}  // namespace dreamer::models
