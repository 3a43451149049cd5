// Evaluation batched across prompts of different lengths equals evaluation one by one, for every
// family: greedy generations (rows that start generating at their own length) and
// log-likelihoods (right-padded rows, reduced on the device). Also: pads stay out of the
// routing statistics, and the stop-string scan that only reads new text.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "data/tokenizer.h"
#include "eval/decoding.h"
#include "eval/loglikelihood.h"
#include "tests/models/tiny_configs.h"
#include "zoo/registry.h"

namespace dreamer::eval {
namespace {

using testing::TinyCase;

// Bytes below the tiny vocabulary (64), lengths 1 to 9 so every batch below mixes lengths.
const std::vector<std::string> kPrompts = {"7", "12+3=", "4*5=", "9+9+9=9", "(1)", "8-2=6-1=0"};

class BatchedEval : public ::testing::TestWithParam<TinyCase> {
 protected:
  void SetUp() override {
    torch::manual_seed(5);
    model_ = zoo::build_model(zoo::model_config_from_json(GetParam().config));
    model_->eval();
  }
  models::LanguageModelPtr model_;
  data::ByteTokenizer tok_;
};

TEST_P(BatchedEval, MixedLengthGreedyGenerationEqualsOneByOne) {
  GenerationOptions gen;
  gen.max_new_tokens = 5;
  gen.stop_at_eos = false;
  ScoringOptions one;
  one.batch_size = 1;
  ScoringOptions batched;
  batched.batch_size = 4;  // batches {9, 7} and {5, 4, 3, 1} tokens long (fewest steps)
  const auto expected = greedy_generate_detailed(*model_, tok_, kPrompts, gen, one);
  const auto got = greedy_generate_detailed(*model_, tok_, kPrompts, gen, batched);
  ASSERT_EQ(got.size(), kPrompts.size());
  for (size_t i = 0; i < kPrompts.size(); ++i) {
    EXPECT_EQ(got[i].text, expected[i].text) << kPrompts[i];
    EXPECT_EQ(got[i].new_tokens, 5);
    EXPECT_TRUE(got[i].hit_max_new_tokens);
  }
  // One by one is itself the plain definition: a full forward for every new token.
  for (size_t i = 0; i < kPrompts.size(); ++i) {
    torch::NoGradGuard no_grad;
    auto ids = tok_.encode(kPrompts[i]);
    std::vector<int64_t> generated;
    for (int s = 0; s < 5; ++s) {
      auto logits = model_->forward(torch::tensor(ids).unsqueeze(0)).logits;
      ids.push_back(logits[0][-1].argmax().item<int64_t>());
      generated.push_back(ids.back());
    }
    EXPECT_EQ(expected[i].text, tok_.decode(generated)) << kPrompts[i];
  }
}

TEST_P(BatchedEval, MixedLengthLoglikelihoodsEqualOneByOne) {
  std::vector<TokenRequest> requests;
  for (size_t i = 0; i < kPrompts.size(); ++i)
    requests.push_back(encode_pair(tok_, kPrompts[i], i % 2 ? "12" : "3+45"));
  ScoringOptions one;
  one.batch_size = 1;
  ScoringOptions batched;
  batched.batch_size = 4;
  int64_t traced = 0;
  batched.on_trace = [&](const models::RoutingTrace& t) {
    if (!t.empty()) traced += t.records.front().expert_ids.size(0);
  };
  const auto expected = score_tokens(*model_, requests, one);
  const auto got = score_tokens(*model_, requests, batched);
  int64_t real_tokens = 0;
  for (size_t i = 0; i < requests.size(); ++i) {
    EXPECT_NEAR(got[i].logprob, expected[i].logprob, 1e-5) << kPrompts[i];
    EXPECT_EQ(got[i].is_greedy, expected[i].is_greedy) << kPrompts[i];
    EXPECT_EQ(got[i].n_tokens, expected[i].n_tokens);
    EXPECT_LT(got[i].logprob, 0.0);
    real_tokens +=
        static_cast<int64_t>(requests[i].context.size() + requests[i].continuation.size()) - 1;
  }
  // Families with experts: the routing statistics count each real input token once per
  // record of the first site, never a pad.
  if (traced > 0) {
    EXPECT_EQ(traced, real_tokens);
  }
}

// Generation's prefill runs the head on the last position only (ForwardOptions.last_logits_only):
// the same numbers as the full head's last position, with and without a cache.
TEST_P(BatchedEval, LastLogitsOnlyIsTheFullHeadsLastPosition) {
  torch::NoGradGuard no_grad;
  const auto tokens = torch::tensor(tok_.encode("8-2=6-1=0")).unsqueeze(0).repeat({2, 1});
  const auto full = model_->forward(tokens).logits;
  models::ForwardOptions last;
  last.last_logits_only = true;
  const auto got = model_->forward(tokens, nullptr, last).logits;
  ASSERT_EQ(got.sizes(), (std::vector<int64_t>{2, 1, full.size(2)}));
  EXPECT_TRUE(torch::allclose(got.squeeze(1), full.select(1, full.size(1) - 1), 1e-5, 1e-6));
  models::InferenceState state;
  const auto cached = model_->forward(tokens, &state, last).logits;
  EXPECT_TRUE(torch::allclose(cached, got, 1e-5, 1e-6));
}

INSTANTIATE_TEST_SUITE_P(Zoo, BatchedEval, ::testing::ValuesIn(testing::tiny_model_cases()),
                         [](const auto& info) { return info.param.name; });

TEST(StopScanner, FindsAStopStringThatStraddlesTwoSteps) {
  StopScanner scanner({"Question:", "\n\n"});
  EXPECT_FALSE(scanner.found("The answer is 4."));
  EXPECT_FALSE(scanner.found("The answer is 4.\nQues"));
  EXPECT_TRUE(
      scanner.found("The answer is 4.\nQuestion"
                    ":"));
}

TEST(StopScanner, RescansATailTheDecoderRewrote) {
  // A decoder may render an incomplete UTF-8 sequence as U+FFFD and rewrite it once complete.
  StopScanner scanner({"\xC3\xA9!"});
  EXPECT_FALSE(scanner.found("caf\xEF\xBF\xBD"));
  EXPECT_TRUE(scanner.found("caf\xC3\xA9!"));
}

TEST(StopScanner, NoStopStringsNeverStops) {
  StopScanner scanner({});
  EXPECT_FALSE(scanner.found("anything"));
}

}  // namespace
}  // namespace dreamer::eval
