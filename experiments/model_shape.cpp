#include "experiments/model_shape.h"

namespace dreamer::experiments {

// Recurrent families keep their default depth either as a recurrence schedule's mean (Dreamer,
// Huginn: evaluation runs the mean) or as a fixed count (Universal Transformer).
ModelShape model_shape(const models::ModelConfig& config) {
  const auto& p = config.params;
  ModelShape shape;
  shape.vocab_size = p.value("vocab_size", int64_t{0});
  if (p.contains("recurrence") && p["recurrence"].is_object() && p["recurrence"].contains("mean")) {
    shape.recurrent = true;
    shape.default_depth = p["recurrence"]["mean"].get<int64_t>();
  } else if (p.contains("recurrences") && p["recurrences"].is_number_integer()) {
    shape.recurrent = true;
    shape.default_depth = p["recurrences"].get<int64_t>();
  }
  return shape;
}

}  // namespace dreamer::experiments
