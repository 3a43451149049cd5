#include "experiments/model_shape.h"

namespace dreamer::experiments {

// Every recurrent family (Dreamer, Huginn, the Universal Transformer) keeps its default depth
// as "recurrence": {"mean"}: evaluation runs the mean (docs/DESIGN.md, "Config names").
ModelShape model_shape(const models::ModelConfig& config) {
  const auto& p = config.params;
  ModelShape shape;
  shape.vocab_size = p.value("vocab_size", int64_t{0});
  if (p.contains("recurrence") && p["recurrence"].is_object() && p["recurrence"].contains("mean")) {
    shape.recurrent = true;
    shape.default_depth = p["recurrence"]["mean"].get<int64_t>();
  }
  return shape;
}

}  // namespace dreamer::experiments
