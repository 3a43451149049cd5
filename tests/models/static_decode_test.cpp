// Static decoding (models/static_decode.h): for every family that opts in, one-token steps with
// the position on the device give the logits of ordinary decoding. On the CPU the static steps
// run eagerly. On CUDA the steps after the warm-up are replays of one captured graph, in fp32
// and under bf16 autocast. Families that do not opt in are refused, not silently run.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "models/blocks/attention_core.h"
#include "models/static_decode.h"
#include "tests/models/tiny_configs.h"
#include "tests/test_util.h"
#include "util/device.h"
#include "zoo/registry.h"

namespace dreamer::models {
namespace {

using testing::TinyCase;

constexpr int64_t kPrompt = 5, kSteps = 6;

// Greedy decoding of kSteps tokens after a [2, kPrompt] prompt, the prefill through an ordinary
// state, then the steps through a decoder in `mode`. Returns the logits of every step,
// [steps, B, V]; `feed`, when given, replaces the greedy tokens (the same inputs for both arms).
torch::Tensor decode(LanguageModel& model, const torch::Tensor& prompt, DecodeMode mode,
                     const torch::Tensor& feed = {}) {
  torch::NoGradGuard no_grad;
  InferenceState state;
  state.capacity = kPrompt + kSteps;
  ForwardOptions options;
  options.last_logits_only = true;
  auto logits = model.forward(prompt, &state, options).logits;
  StaticDecoder decoder(model, state, options, mode);
  std::vector<torch::Tensor> steps;
  for (int64_t s = 0; s < kSteps; ++s) {
    const auto next =
        feed.defined() ? feed.select(0, s) : logits.select(1, 0).argmax(-1, /*keepdim=*/true);
    logits = decoder.step(next).logits.clone();  // a graph overwrites its output next step
    steps.push_back(logits.select(1, 0));
  }
  return torch::stack(steps);
}

// The greedy tokens that produced these step logits, as decode()'s `feed` ([steps, B, 1]).
torch::Tensor tokens_before(LanguageModel& model, const torch::Tensor& prompt,
                            const torch::Tensor& steps) {
  torch::NoGradGuard no_grad;
  auto first = model.forward(prompt).logits.select(1, kPrompt - 1).argmax(-1, true);
  auto rest = steps.narrow(0, 0, kSteps - 1).argmax(-1, true);
  return torch::cat({first.unsqueeze(0), rest});
}

class StaticDecode : public ::testing::TestWithParam<TinyCase> {
 protected:
  void SetUp() override {
    torch::manual_seed(11);
    model_ = zoo::build_model(zoo::model_config_from_json(GetParam().config));
    model_->eval();
    const int64_t vocab = GetParam().config.value("vocab_size", int64_t{64});
    prompt_ = torch::randint(0, vocab, {2, kPrompt}, torch::kLong);
  }
  LanguageModelPtr model_;
  torch::Tensor prompt_;
};

TEST_P(StaticDecode, StaticStepsGiveTheLogitsOfOrdinaryDecoding) {
  if (!model_->supports_static_decode()) {
    torch::NoGradGuard no_grad;
    InferenceState state;
    state.capacity = kPrompt + kSteps;
    model_->forward(prompt_, &state);
    EXPECT_THROW(StaticDecoder(*model_, state, {}, DecodeMode::kStatic), std::invalid_argument);
    EXPECT_EQ(choose_decode_mode(*model_, torch::Device("cuda:0"), {}, true), DecodeMode::kEager);
    return;
  }
  const auto eager = decode(*model_, prompt_, DecodeMode::kEager);
  const auto feed = tokens_before(*model_, prompt_, eager);
  const auto got = decode(*model_, prompt_, DecodeMode::kStatic, feed);
  EXPECT_TRUE(torch::allclose(got, eager, 1e-4, 1e-5))
      << "max |diff| " << (got - eager).abs().max().item<double>();
}

TEST_P(StaticDecode, CudaGraphReplaysGiveTheLogitsOfEagerDecoding) {
  SKIP_WITHOUT_CUDA();
  if (!cuda_graphs_compiled()) GTEST_SKIP() << "this build cannot capture CUDA graphs";
  if (!model_->supports_static_decode()) GTEST_SKIP() << "family decodes eagerly";
  model_->to(torch::kCUDA);
  const auto prompt = prompt_.to(torch::kCUDA);
  const bool dense = GetParam().config.value("family", std::string()) == "dense_transformer";
  int64_t graphed = 0;
  // bf16: the static step's masked attention is another SDPA kernel than the eager step's
  // causal one, so the logits agree to bf16 rounding only.
  for (const bool bf16 : {false, true}) {
    CudaAutocast autocast(bf16);
    const auto mode = choose_decode_mode(*model_, prompt.device(), {}, true);
    // Dense steps always capture; MoE steps only on the grouped expert path (bf16), since the
    // expert loop reads counts on the host.
    if (dense) EXPECT_EQ(mode, DecodeMode::kGraph) << (bf16 ? "bf16" : "fp32");
    if (mode != DecodeMode::kGraph) continue;
    ++graphed;
    const auto eager = decode(*model_, prompt, DecodeMode::kEager);
    const auto feed = tokens_before(*model_, prompt, eager);
    const auto graph = decode(*model_, prompt, DecodeMode::kGraph, feed);
    const double rtol = bf16 ? 5e-2 : 1e-3, atol = bf16 ? 5e-2 : 1e-4;
    EXPECT_TRUE(torch::allclose(graph, eager, rtol, atol))
        << (bf16 ? "bf16" : "fp32") << ", max |diff| "
        << (graph - eager).abs().max().item<double>();
  }
  if (graphed == 0) GTEST_SKIP() << "no precision captures for this configuration";
}

INSTANTIATE_TEST_SUITE_P(Zoo, StaticDecode, ::testing::ValuesIn(testing::tiny_model_cases()),
                         [](const auto& info) { return info.param.name; });

TEST(KeyMaskedAttention, EqualsCausalAttentionOverTheValidPrefix) {
  torch::manual_seed(2);
  const auto q = torch::randn({2, 4, 1, 8});
  const auto k = torch::randn({2, 2, 7, 8}), v = torch::randn({2, 2, 7, 8});
  const auto mask = torch::arange(7) < 5;  // entries 0..4 written
  const auto expected = causal_attention_reference(q, k.narrow(2, 0, 5), v.narrow(2, 0, 5));
  EXPECT_TRUE(torch::allclose(key_masked_attention(q, k, v, mask), expected, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(key_masked_attention_reference(q, k, v, mask), expected, 1e-5, 1e-6));
}

}  // namespace
}  // namespace dreamer::models
