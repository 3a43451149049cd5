// Every shared block's analytic parameter count (the terms the families' counts are composed
// of) equals the parameters of the built module, over the options that change its structure.
// The family-level check (analytic == built for every tiny config) is in
// model_invariants_test.cpp; this one pins each term on its own, so that a wrong term cannot be
// hidden by a compensating one.
#include <gtest/gtest.h>

#include <string>

#include "models/blocks/ffn.h"
#include "models/blocks/norm.h"
#include "models/blocks/switch_head.h"
#include "models/blocks/transformer_block.h"

namespace dreamer::testing {
namespace {

using namespace dreamer::models;

int64_t built(const torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

TEST(BlockParameterCounts, FeedForwardOverActivationsAndBias) {
  for (const auto& [name, activation] : activation_names())
    for (bool bias : {false, true}) {
      SCOPED_TRACE(name + (bias ? " with bias" : ""));
      FeedForward ffn(24, 40, activation, bias);
      EXPECT_EQ(feed_forward_parameters(24, 40, activation, bias), built(*ffn));
    }
  // Independent of the code: SwiGLU has two input projections, the others one.
  EXPECT_EQ(feed_forward_parameters(24, 40, Activation::kSwiGLU, false), 3 * 24 * 40);
  EXPECT_EQ(feed_forward_parameters(24, 40, Activation::kGELU, true), 2 * 24 * 40 + 40 + 24);
}

TEST(BlockParameterCounts, NormOverKinds) {
  for (const auto& [name, kind] : norm_kind_names()) {
    SCOPED_TRACE(name);
    Norm norm(24, kind);
    EXPECT_EQ(norm_parameters(kind, 24), built(*norm));
  }
}

TEST(BlockParameterCounts, TransformerBlockOverHeadLayoutsBiasesNormsAndMlp) {
  int checked = 0;
  for (int64_t n_kv_heads : {4, 2, 1})
    for (int bias_mode = 0; bias_mode < 3; ++bias_mode)
      for (const auto& [norm_name, norm] : norm_kind_names())
        for (bool sandwich : {false, true})
          for (int64_t ffn_hidden : {0, 48}) {
            TransformerBlockOptions o;
            o.attention.d_model = 32;
            o.attention.n_heads = 4;
            o.attention.n_kv_heads = n_kv_heads;
            o.attention.head_dim = 12;  // != d_model / n_heads: the projections are not square
            o.attention.bias = bias_mode == 1;
            o.attention.qk_bias = bias_mode == 2;
            o.norm = norm;
            o.sandwich = sandwich;
            o.ffn_hidden = ffn_hidden;
            o.activation = ffn_hidden > 0 && sandwich ? Activation::kGELU : Activation::kSwiGLU;
            o.ffn_bias = bias_mode == 1;
            SCOPED_TRACE("kv " + std::to_string(n_kv_heads) + " bias " + std::to_string(bias_mode) +
                         " " + norm_name + (sandwich ? " sandwich" : "") + " ffn " +
                         std::to_string(ffn_hidden));
            TransformerBlock block(o);
            EXPECT_EQ(transformer_block_parameters(o), built(*block));
            EXPECT_EQ(sequence_attention_parameters(o.attention), built(*block->attention));
            ++checked;
          }
  EXPECT_EQ(checked, 3 * 3 * 3 * 2 * 2);
}

TEST(BlockParameterCounts, SwitchHeadWithAndWithoutValueExperts) {
  for (int64_t n_experts : {1, 2, 5}) {
    SCOPED_TRACE("experts " + std::to_string(n_experts));
    SwitchHeadOptions o;
    o.d_model = 24;
    o.n_heads = 3;
    o.head_dim = 10;
    o.n_experts = n_experts;
    o.k = n_experts > 1 ? 2 : 1;
    SwitchHead head(o);
    EXPECT_EQ(switch_head_parameters(o), built(*head));
  }
}

}  // namespace
}  // namespace dreamer::testing
