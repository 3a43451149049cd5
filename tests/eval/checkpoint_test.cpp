// Checkpoints: a save/load round trip rebuilds a model with identical logits and buffers.
#include <gtest/gtest.h>

#include <fstream>

#include "tests/models/tiny_configs.h"
#include "tests/test_util.h"
#include "train/checkpoint.h"
#include "util/errors.h"
#include "zoo/registry.h"

namespace dreamer::train {
namespace {

models::LanguageModelPtr tiny(const std::string& name) {
  for (const auto& c : testing::tiny_model_cases())
    if (c.name == name) return zoo::build_model(zoo::model_config_from_json(c.config));
  throw std::runtime_error("no tiny config " + name);
}

TEST(Checkpoint, RoundTripGivesIdenticalLogitsAndBuffers) {
  torch::manual_seed(5);
  auto model = tiny("dreamer_DR_DA_EA");
  {
    // Give the balancing bias non-default values, so buffers are known to travel too.
    torch::NoGradGuard no_grad;
    for (auto& b : model->named_buffers())
      if (b.key().find("selection_bias") != std::string::npos) b.value().normal_();
  }
  const auto dir = testing::temp_dir() + "/ck";
  save_checkpoint(dir, *model, data::ByteTokenizer());
  torch::manual_seed(99);  // a fresh build would initialise differently
  auto loaded = load_checkpoint(dir);
  EXPECT_EQ(loaded.model->config().to_json(), model->config().to_json());
  EXPECT_EQ(loaded.tokenizer->to_json(), data::ByteTokenizer().to_json());
  model->eval();
  loaded.model->eval();
  torch::NoGradGuard no_grad;
  auto tokens = torch::randint(0, 64, {2, 7});
  models::ForwardOptions options;
  options.recurrences = 3;
  EXPECT_TRUE(torch::equal(model->forward(tokens, nullptr, options).logits,
                           loaded.model->forward(tokens, nullptr, options).logits));
  auto a = model->named_buffers(), b = loaded.model->named_buffers();
  for (const auto& item : a) EXPECT_TRUE(torch::equal(item.value(), b[item.key()])) << item.key();
}

TEST(Checkpoint, MissingOrBrokenCheckpointsAreInputErrors) {
  EXPECT_THROW(load_checkpoint("/nonexistent/ck"), InputError);
  const auto dir = testing::temp_dir();
  EXPECT_THROW(load_checkpoint(dir), InputError);  // no config.json
  auto model = tiny("dreamer_DR");
  save_checkpoint(dir + "/ck", *model, data::ByteTokenizer());
  std::ofstream(dir + "/ck/model.pt") << "not a torch archive";
  EXPECT_THROW(load_checkpoint(dir + "/ck"), InputError);
}

}  // namespace
}  // namespace dreamer::train
