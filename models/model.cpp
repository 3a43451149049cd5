#include "models/model.h"

namespace dreamer::models {

std::pair<torch::Tensor, torch::Tensor> KVCache::append(const torch::Tensor& k_new,
                                                        const torch::Tensor& v_new) {
  if (!k.defined()) {
    k = k_new;
    v = v_new;
  } else {
    k = torch::cat({k, k_new}, 2);
    v = torch::cat({v, v_new}, 2);
  }
  return {k, v};
}

bool LanguageModel::is_embedding_parameter(const std::string& name) const {
  auto starts = [&](const char* prefix) { return name.rfind(prefix, 0) == 0; };
  return starts("embedding.") || starts("position_embedding.") || starts("lm_head.");
}

ParameterCounts count_parameters(const LanguageModel& model) {
  ParameterCounts counts;
  for (const auto& item : model.named_parameters(/*recurse=*/true)) {
    const int64_t n = item.value().numel();
    counts.total += n;
    if (model.is_embedding_parameter(item.key())) counts.embedding += n;
  }
  counts.non_embedding = counts.total - counts.embedding;
  return counts;
}

}  // namespace dreamer::models
