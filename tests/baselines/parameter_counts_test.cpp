// Parameter counts of well-known configurations equal their published / reference values.
// Billion-parameter configs go through the analytic count only; the analytic count itself is
// checked against built modules here (GPT-2 small, MoEUT 44M) and for every tiny config in
// model_invariants_test.cpp.
#include <gtest/gtest.h>

#include <map>

#include "baselines/moeut.h"
#include "zoo/registry.h"

namespace dreamer::testing {
namespace {

using models::ModelConfig;

int64_t analytic_total(const nlohmann::json& j) {
  return zoo::analytic_parameter_counts(zoo::model_config_from_json(j)).total;
}

TEST(PublishedParameterCounts, TinyLlamaIs1100048384) {
  // Llama-style: width 2048, 22 layers, 32 heads, 4 KV heads, SwiGLU 5632, vocab 32000, untied.
  EXPECT_EQ(analytic_total({{"family", "dense_transformer"}, {"preset", "tinyllama_1.1b"}}),
            1100048384);
}

TEST(PublishedParameterCounts, Gpt2SmallIs124439808AndTheModuleAgrees) {
  auto config =
      zoo::model_config_from_json({{"family", "dense_transformer"}, {"preset", "gpt2_small"}});
  const auto analytic = zoo::analytic_parameter_counts(config);
  EXPECT_EQ(analytic.total, 124439808);
  const auto built = models::count_parameters(*zoo::build_model(config));
  EXPECT_EQ(built.total, analytic.total);
  EXPECT_EQ(built.embedding, analytic.embedding);
  // Token table (tied head) + 1024 learned positions.
  EXPECT_EQ(analytic.embedding, 50257 * 768 + 1024 * 768);
}

// The reference (moeut.py MoEUTLM) tensors, written out independently of our code:
// per distinct layer q, k [H*Dh, d]; v, o [H*E, d, Dh] (dense [H*Dh, d] when E = 1); sel_v
// (E > 1) and sel_o [H*E, d]; keys, values [F, d, 128]; expert_sel [F, d]; ln1, ln2 (2d each);
// once: embedding [V, d], lm_head [V, d] + bias [V], out_norm 2d.
int64_t moeut_reference_count(int64_t v, int64_t d, int64_t h, int64_t dh, int64_t att_e,
                              int64_t ff_e, int64_t g) {
  int64_t layer = 2 * h * dh * d + h * att_e * d;
  layer += att_e > 1 ? 2 * h * att_e * d * dh + h * att_e * d : 2 * h * dh * d;
  layer += 2 * ff_e * d * 128 + ff_e * d + 4 * d;
  return g * layer + 2 * v * d + v + 2 * d;
}

TEST(PublishedParameterCounts, MoEUT44MAtVocab8000Is44345792) {
  EXPECT_EQ(analytic_total({{"family", "moeut"}, {"preset", "44M"}, {"vocab_size", 8000}}),
            44345792);
}

TEST(PublishedParameterCounts, EveryMoEUTPresetMatchesTheReferenceAtAnyVocabulary) {
  struct Profile {
    const char* name;
    int64_t d, h, dh, att_e, ff_e, g;
  };
  const Profile profiles[] = {
      {"44M", 412, 4, 82, 8, 155, 2},     {"126M", 768, 4, 96, 10, 254, 2},
      {"244M", 1024, 4, 128, 10, 387, 2}, {"318M", 1024, 4, 128, 10, 338, 3},
      {"727M", 1024, 5, 128, 13, 467, 4}, {"1B", 1536, 6, 128, 12, 565, 4}};
  for (const auto& p : profiles)
    for (int64_t vocab : {8000, 32000, 50257}) {
      SCOPED_TRACE(std::string(p.name) + " vocab " + std::to_string(vocab));
      EXPECT_EQ(analytic_total({{"family", "moeut"}, {"preset", p.name}, {"vocab_size", vocab}}),
                moeut_reference_count(vocab, p.d, p.h, p.dh, p.att_e, p.ff_e, p.g));
      // The gated special case (att_n_experts = 1) too.
      EXPECT_EQ(analytic_total({{"family", "moeut"},
                                {"preset", p.name},
                                {"vocab_size", vocab},
                                {"attention_experts", {{"n_experts", 1}}}}),
                moeut_reference_count(vocab, p.d, p.h, p.dh, 1, p.ff_e, p.g));
    }
}

TEST(PublishedParameterCounts, MoEUT44MModuleHasTheReferenceShapes) {
  auto config =
      zoo::model_config_from_json({{"family", "moeut"}, {"preset", "44M"}, {"vocab_size", 8000}});
  auto model = zoo::build_model(config);
  EXPECT_EQ(models::count_parameters(*model).total, 44345792);
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const auto& item : model->named_parameters())
    shapes[item.key()] = item.value().sizes().vec();
  // reference name -> ours
  const std::vector<std::pair<std::string, std::vector<int64_t>>> expected = {
      {"layers.1.attention.v", {32, 412, 82}},
      {"layers.1.attention.o", {32, 82, 412}},
      {"layers.1.attention.sel_v", {32, 412}},
      {"layers.1.attention.sel_o", {32, 412}},
      {"layers.1.attention.q.weight", {328, 412}},
      {"layers.1.attention.k.weight", {328, 412}},
      {"layers.1.ffn.experts.w_up", {155, 412, 128}},    // ffn.keys
      {"layers.1.ffn.experts.w_down", {155, 128, 412}},  // ffn.values
      {"layers.1.ffn.router.expert_keys", {155, 412}},   // ffn.expert_sel
      {"layers.1.ln1.weight", {412}},
      {"layers.1.ln1.bias", {412}},
      {"layers.1.ln2.weight", {412}},
      {"layers.1.ln2.bias", {412}},
      {"embedding.weight", {8000, 412}},
      {"lm_head.weight", {8000, 412}},
      {"lm_head.bias", {8000}},
      {"out_norm.weight", {412}},
      {"out_norm.bias", {412}},
  };
  for (const auto& [name, shape] : expected) {
    ASSERT_TRUE(shapes.count(name)) << name << " missing";
    EXPECT_EQ(shapes[name], shape) << name;
  }
  // Two distinct layers (G = 2), 13 tensors each, plus 5 shared ones: nothing else.
  EXPECT_EQ(shapes.size(), 2u * 13u + 5u);
}

TEST(PublishedParameterCounts, HuginnPresetsCountWithoutInstantiation) {
  // Huginn-0125: 8 sandwich blocks (4 norms, fused-equivalent qkv + o, qk_bias, gated MLP),
  // the 2h -> h adapter, ln_f and the tied 65536 x 5280 embedding.
  const int64_t h = 5280, ffn = 17920, v = 65536;
  const int64_t block = 4 * h + 4 * h * h + 2 * h + 3 * h * ffn;
  EXPECT_EQ(analytic_total({{"family", "huginn"}, {"preset", "huginn_0125"}}),
            8 * block + 2 * h * h + h + v * h);
}

}  // namespace
}  // namespace dreamer::testing
