#pragma once
// What planning needs to know about a model (recurrent or not, its default depth, its output
// vocabulary), read from the resolved config instead of building the module: a paper-scale arm
// would otherwise allocate and initialise gigabytes of weights just to be planned.
// ModelShape.MatchesTheBuiltModel (tests/experiments) checks it against built modules.
#include <cstdint>

#include "models/config.h"

namespace dreamer::experiments {

struct ModelShape {
  bool recurrent = false;
  int64_t default_depth = 1;  // recurrences an evaluation runs without a depth override
  int64_t vocab_size = 0;
};

ModelShape model_shape(const models::ModelConfig& config);

}  // namespace dreamer::experiments
