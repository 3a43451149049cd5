// Activation checkpointing (models/blocks/checkpoint.h), selected by
// workload.activation_checkpointing: the same gradients as without it, the saved bytes the
// memory model predicts for it (CPU allocator, fp32), routers counting their load once, and
// a clear refusal where a family cannot honour it.
#include <gtest/gtest.h>

#include <torch/torch.h>
#include <torch/version.h>
#include <cstdio>

#include "models/blocks/attention_core.h"
#include "models/blocks/checkpoint.h"
#include "models/dreamer.h"
#include "train/memory_step.h"
#include "train/trainer.h"
#include "util/memory_probe.h"
#include "zoo/registry.h"

namespace dreamer::testing {
namespace {

using nlohmann::json;

constexpr int64_t kBatch = 2, kSeq = 32, kDepths = 3;

models::Workload cpu_workload(bool checkpointing) {
  // What train::training_loss really runs on this CPU (the chunked loss among it), as
  // `dreamer bench-memory` predicts it; the tiny models recur kDepths times.
  auto w = train::workload_on(torch::kCPU, {kBatch, kSeq, /*bf16=*/false, checkpointing});
  w.recurrences = kDepths;
  return w;
}

struct StepResult {
  int64_t saved = 0;
  std::vector<torch::Tensor> grads;
  std::vector<torch::Tensor> buffers;
};

StepResult step(const json& config_json, bool checkpointing) {
  install_cpu_memory_probe();
  torch::manual_seed(0);
  const auto config = zoo::model_config_from_json(config_json);
  auto model = zoo::build_model(config);
  model->train();
  const int64_t vocab = config.params.value("vocab_size", int64_t{256});
  auto tokens = torch::randint(0, vocab, {kBatch, kSeq + 1}, torch::kLong);
  models::ActivationCheckpointing mode(checkpointing);
  {  // warm-up (process-wide caches), then fresh gradients and router loads
    auto warm = train::training_loss(*model, tokens, false);
    (warm.cross_entropy + warm.aux).backward();
  }
  for (auto& p : model->parameters()) p.mutable_grad() = torch::Tensor();
  for (auto& b : model->buffers()) b.detach().zero_();
  StepResult r;
  const int64_t before = cpu_memory_stats().live_bytes;
  auto loss = train::training_loss(*model, tokens, false);
  r.saved = cpu_memory_stats().live_bytes - before;
  (loss.cross_entropy + loss.aux).backward();
  for (auto& p : model->parameters())
    r.grads.push_back(p.grad().defined() ? p.grad().clone() : torch::Tensor());
  for (auto& b : model->buffers()) r.buffers.push_back(b.clone());
  return r;
}

void expect_checkpointing_works(const json& config_json) {
  SCOPED_TRACE(config_json.dump());
  const auto plain = step(config_json, false);
  const auto ckpt = step(config_json, true);
  ASSERT_EQ(plain.grads.size(), ckpt.grads.size());
  for (size_t i = 0; i < plain.grads.size(); ++i) {
    ASSERT_EQ(plain.grads[i].defined(), ckpt.grads[i].defined()) << "parameter " << i;
    if (plain.grads[i].defined())
      EXPECT_TRUE(torch::allclose(plain.grads[i], ckpt.grads[i], 1e-4, 1e-6)) << "parameter " << i;
  }
  // Router loads (balancing-bias counts) are counted once, not again when recomputing.
  for (size_t i = 0; i < plain.buffers.size(); ++i)
    EXPECT_TRUE(torch::equal(plain.buffers[i], ckpt.buffers[i])) << "buffer " << i;
  EXPECT_LT(ckpt.saved, plain.saved);
  const auto config = zoo::model_config_from_json(config_json);
  const auto cost = zoo::family(config.family).cost(config, cpu_workload(true));
  const double predicted = cost.memory.activations + cost.memory.logits_loss_saved;
  const auto full = zoo::family(config.family).cost(config, cpu_workload(false));
  // One line per measured term, so a run under another LibTorch shows which ones differ.
  const std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
  std::printf("MEMOP ckpt:%s measured %lld predicted %.0f ratio %.3f torch %d.%d\n", name.c_str(),
              static_cast<long long>(ckpt.saved), predicted,
              static_cast<double>(ckpt.saved) / predicted, TORCH_VERSION_MAJOR,
              TORCH_VERSION_MINOR);
  const double full_predicted = full.memory.activations + full.memory.logits_loss_saved;
  std::printf("MEMOP plain:%s measured %lld predicted %.0f ratio %.3f torch %d.%d\n", name.c_str(),
              static_cast<long long>(plain.saved), full_predicted,
              static_cast<double>(plain.saved) / full_predicted, TORCH_VERSION_MAJOR,
              TORCH_VERSION_MINOR);
  EXPECT_NEAR(static_cast<double>(ckpt.saved) / predicted, 1.0, 0.10)
      << "measured " << ckpt.saved << ", predicted " << predicted;
  // The extra forward of the checkpointed blocks is in the training FLOPs.
  EXPECT_GT(cost.flops_recompute_per_token, 0);
  EXPECT_DOUBLE_EQ(cost.flops_train_per_token,
                   full.flops_train_per_token + cost.flops_recompute_per_token);
  EXPECT_GT(cost.memory.checkpoint_recompute, 0);
}

TEST(ActivationCheckpointing, DenseTransformer) {
  expect_checkpointing_works({{"family", "dense_transformer"},
                              {"vocab_size", 64},
                              {"d_model", 64},
                              {"n_layers", 3},
                              {"n_heads", 4}});
}

TEST(ActivationCheckpointing, MoETransformerWithBalancingBias) {
  expect_checkpointing_works(
      {{"family", "moe_transformer"},
       {"vocab_size", 64},
       {"d_model", 64},
       {"n_layers", 2},
       {"n_heads", 4},
       {"ffn_experts",
        {{"n_experts", 8}, {"k", 2}, {"expert_dim", 32}, {"balancing_bias", true}}}});
}

TEST(ActivationCheckpointing, UniversalTransformer) {
  expect_checkpointing_works({{"family", "universal_transformer"},
                              {"vocab_size", 64},
                              {"d_model", 64},
                              {"n_heads", 4},
                              {"recurrence", {{"mean", kDepths}}}});
}

TEST(ActivationCheckpointing, Huginn) {
  expect_checkpointing_works(
      {{"family", "huginn"},
       {"vocab_size", 64},
       {"d_model", 64},
       {"n_heads", 4},
       {"ffn", {{"hidden", 128}}},
       {"recurrence", {{"sampling", "fixed"}, {"mean", kDepths}, {"backprop_depth", 2}}}});
}

TEST(ActivationCheckpointing, DreamerWithoutDepthAttention) {
  expect_checkpointing_works({{"family", "dreamer"},
                              {"preset", "DR+EA"},
                              {"vocab_size", 64},
                              {"d_model", 64},
                              {"n_heads", 4},
                              {"ffn_experts", {{"n_experts", 8}, {"k", 2}, {"expert_dim", 32}}},
                              {"recurrence", {{"mean", kDepths}, {"max", 8}}}});
}

TEST(ActivationCheckpointing, RefusedWhereNotImplemented) {
  for (const json& j :
       {json{{"family", "dreamer"}, {"preset", "DR+DA"}, {"d_model", 64}},
        json{{"family", "moeut"}, {"d_model", 64}, {"n_layers", 2}, {"group_size", 1}}}) {
    SCOPED_TRACE(j.dump());
    const auto config = zoo::model_config_from_json(j);
    EXPECT_THROW(zoo::family(config.family).cost(config, cpu_workload(true)),
                 std::invalid_argument);
    auto model = zoo::build_model(config);
    model->train();
    models::ActivationCheckpointing mode(true);
    auto tokens = torch::randint(0, 64, {1, 9}, torch::kLong);
    EXPECT_THROW(train::training_loss(*model, tokens, false), std::invalid_argument);
  }
}

}  // namespace
}  // namespace dreamer::testing
