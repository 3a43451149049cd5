// Planning reads a model's recurrence and vocabulary from its config (experiments/model_shape.h)
// instead of building it; this keeps that reading honest against the built modules.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "experiments/model_shape.h"
#include "zoo/registry.h"

namespace dreamer::testing {
namespace {

TEST(ModelShape, MatchesTheBuiltModelForEveryFamily) {
  int checked = 0, recurrent = 0;
  for (const auto& family : zoo::families()) {
    for (const auto& [preset, overrides] : family.presets) {
      const auto config = zoo::model_config_from_preset(family.name, preset);
      if (zoo::analytic_parameter_counts(config).total > 30'000'000) continue;  // keep it fast
      SCOPED_TRACE(family.name + "/" + preset);
      const auto shape = experiments::model_shape(config);
      auto model = zoo::build_model(config);
      model->eval();
      torch::NoGradGuard no_grad;
      const auto out = model->forward(torch::zeros({1, 2}, torch::kLong));
      EXPECT_EQ(shape.recurrent, model->is_recurrent());
      EXPECT_EQ(shape.default_depth, out.recurrences);
      EXPECT_EQ(shape.vocab_size, out.logits.size(-1));
      ++checked;
      recurrent += shape.recurrent;
    }
  }
  EXPECT_GE(checked, 8);
  EXPECT_GE(recurrent, 5);  // Dreamer's four presets, Huginn, the Universal Transformer
}

}  // namespace
}  // namespace dreamer::testing
