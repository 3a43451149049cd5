#include "models/model.h"

#include <algorithm>

namespace dreamer::models {

std::pair<torch::Tensor, torch::Tensor> KVCache::append(const torch::Tensor& k_new,
                                                        const torch::Tensor& v_new) {
  if (is_static()) {
    TORCH_CHECK(k_new.size(2) == 1, "static decoding writes one token per step, got ",
                k_new.size(2));
    k.index_copy_(2, slot, k_new.to(k.scalar_type()));
    v.index_copy_(2, slot, v_new.to(v.scalar_type()));
    return {k, v};
  }
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

void InferenceState::enable_static_decoding() {
  TORCH_CHECK(!sequence.empty(), "static decoding needs a prefilled state");
  for (const auto& c : depth)
    TORCH_CHECK(!c.k.defined(), "static decoding does not support depth-attention caches");
  const auto device = sequence.front().k.device();
  key_index = torch::arange(capacity, torch::dtype(torch::kLong).device(device));
  slot = torch::full({1}, position, key_index.options());
  valid = key_index < position;
  for (auto& c : sequence) {
    TORCH_CHECK(c.k.defined() && c.k.size(2) == capacity, "static decoding needs caches of ",
                capacity, " positions, one holds ", c.k.defined() ? c.k.size(2) : 0);
    TORCH_CHECK(c.used == position, "a cache holds ", c.used, " entries at position ", position);
    c.k.narrow(2, c.used, capacity - c.used).zero_();
    c.v.narrow(2, c.used, capacity - c.used).zero_();
    c.slot = slot;
    c.valid = valid;
  }
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
