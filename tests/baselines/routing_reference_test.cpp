// Sparse expert layers against dense float64 references: every expert is computed for every
// token and masked to the selected top-k, so dispatch bugs (wrong rows, wrong gates, wrong
// expert) show up as mismatches.
#include <gtest/gtest.h>

#include <cmath>

#include "baselines/moe_transformer.h"
#include "baselines/moeut.h"
#include "models/blocks/switch_head.h"
#include "tests/test_util.h"
#include "zoo/registry.h"

namespace dreamer::testing {
namespace {

using torch::Tensor;

Tensor f64(const Tensor& t) {
  return t.detach().to(torch::kFloat64);
}

// [N, E] mask with the gate value at the top-k selected entries (selection on `select_on`).
Tensor topk_gates(const Tensor& select_on, const Tensor& gate_values, int64_t k) {
  auto ids = std::get<1>(select_on.topk(k, -1));
  return torch::zeros_like(gate_values).scatter(-1, ids, gate_values.gather(-1, ids));
}

Tensor swiglu_expert(const Tensor& x, const Tensor& up, const Tensor& gate, const Tensor& down) {
  return torch::matmul(torch::silu(torch::matmul(x, gate)) * torch::matmul(x, up), down);
}

std::shared_ptr<baselines::MoETransformer> tiny_moe(const nlohmann::json& moe) {
  auto config = zoo::model_config_from_json({{"family", "moe_transformer"},
                                             {"vocab_size", 32},
                                             {"d_model", 16},
                                             {"n_heads", 2},
                                             {"n_layers", 1},
                                             {"ffn_experts", moe}});
  return std::dynamic_pointer_cast<baselines::MoETransformer>(zoo::build_model(config));
}

// Dense reference of one MoE MLP: all experts, masked to the top-k.
Tensor moe_reference(baselines::MoELayerImpl& layer, const Tensor& x, const Tensor& bias,
                     bool softmax, bool renormalize, int64_t k) {
  auto xd = f64(x);
  auto logits = torch::matmul(xd, f64(layer.router->expert_keys).t());  // [N, E]
  auto scores = softmax ? torch::softmax(logits, -1) : torch::sigmoid(logits);
  auto weights = topk_gates(logits + f64(bias), scores, k);
  if (renormalize) weights = weights / weights.sum(-1, true);
  auto& ex = *layer.experts;
  auto y = torch::zeros_like(xd);
  for (int64_t e = 0; e < ex.n_experts; ++e)
    y = y + weights.select(1, e).unsqueeze(1) *
                swiglu_expert(xd, f64(ex.w_up[e]), f64(ex.w_gate[e]), f64(ex.w_down[e]));
  if (layer.shared) {
    auto& s = *layer.shared;
    y = y +
        swiglu_expert(xd, f64(s.up->weight).t(), f64(s.gate->weight).t(), f64(s.down->weight).t());
  }
  return y;
}

// Runs the layer's MoE on random tokens; with `random_bias` the selection bias is set large
// enough to change the choice: it must steer the selection, never the gates.
void expect_moe_matches_reference(const nlohmann::json& moe, bool random_bias, bool softmax,
                                  bool renormalize) {
  auto model = tiny_moe(moe);
  model->eval();
  auto& layer = *model->moe_layers[0];
  if (random_bias)
    layer.router->selection_bias.copy_(torch::randn({moe["n_experts"].get<int64_t>()}));
  auto x = torch::randn({3, 5, 16});
  torch::NoGradGuard no_grad;
  auto y = layer.moe(x, nullptr, nullptr).reshape({-1, 16});
  auto ref = moe_reference(layer, x.reshape({-1, 16}), layer.router->selection_bias, softmax,
                           renormalize, moe["k"].get<int64_t>());
  EXPECT_TENSOR_NEAR(y, ref, 1e-5);
}

TEST(RoutingReference, MoESoftmaxTopKMatchesDenseReference) {
  torch::manual_seed(3);
  expect_moe_matches_reference({{"n_experts", 6}, {"k", 2}, {"expert_dim", 8}, {"gate", "softmax"}},
                               false, true, false);
}

TEST(RoutingReference, MoESigmoidBiasSharedMatchesDenseReference) {
  torch::manual_seed(4);
  expect_moe_matches_reference({{"n_experts", 8},
                                {"k", 3},
                                {"expert_dim", 4},
                                {"gate", "sigmoid"},
                                {"renormalize", true},
                                {"balancing_bias", true},
                                {"n_shared_experts", 1}},
                               true, false, true);
}

TEST(RoutingReference, BalancingBiasMovesTowardUnderloadedExperts) {
  torch::manual_seed(5);
  auto model = tiny_moe({{"n_experts", 4},
                         {"k", 1},
                         {"expert_dim", 4},
                         {"gate", "sigmoid"},
                         {"balancing_bias", true},
                         {"aux_loss_coef", 0.0}});
  model->train();
  auto out = model->forward(torch::randint(0, 32, {4, 16}));
  auto load = model->moe_layers[0]->router->expert_load.clone();
  model->after_optimizer_step();
  auto bias = model->moe_layers[0]->router->selection_bias;
  const auto busiest = load.argmax().item<int64_t>(), idlest = load.argmin().item<int64_t>();
  EXPECT_LT(bias[busiest].item<double>(), bias[idlest].item<double>());
}

TEST(RoutingReference, SwitchAuxLossIsPositiveInTrainingAndOffInEval) {
  torch::manual_seed(6);
  auto model = tiny_moe({{"n_experts", 4}, {"k", 2}, {"expert_dim", 8}, {"aux_loss_coef", 0.5}});
  auto tokens = torch::randint(0, 32, {2, 8});
  model->train();
  // Perfectly balanced routing gives exactly 1 (times the coefficient); anything else more.
  EXPECT_GE(model->forward(tokens).aux_loss.item<double>(), 0.5 - 1e-6);
  model->eval();
  EXPECT_EQ(model->forward(tokens).aux_loss.item<double>(), 0.0);
}

TEST(RoutingReference, SigmaMoEMatchesDenseReference) {
  torch::manual_seed(7);
  baselines::SigmaMoE moe(12, 7, 5, 3);
  moe->reset_parameters(0.7);
  auto x = torch::randn({2, 6, 12}), x_sel = torch::randn({2, 6, 12});
  torch::NoGradGuard no_grad;
  auto y = moe(x, x_sel).reshape({-1, 12});
  auto xd = f64(x).reshape({-1, 12});
  auto scores = torch::sigmoid(
      torch::matmul(f64(x_sel).reshape({-1, 12}), f64(moe->router->expert_keys).t()));
  auto weights = topk_gates(scores, scores, 3);  // sigmoid scores, no renormalisation
  auto ref = torch::zeros_like(xd);
  for (int64_t e = 0; e < 7; ++e)
    ref = ref + weights.select(1, e).unsqueeze(1) *
                    torch::matmul(torch::relu(torch::matmul(xd, f64(moe->experts->w_up[e]))),
                                  f64(moe->experts->w_down[e]));
  EXPECT_TENSOR_NEAR(y, ref, 1e-5);
}

// Rotates the first nr dims of x [B, H, T, Dh] (rotate-half pairing i <-> i + nr/2).
Tensor rope_reference(const Tensor& x, int64_t nr, double base) {
  const int64_t t = x.size(2), half = nr / 2;
  auto pos = torch::arange(t, torch::kFloat64).unsqueeze(1);
  auto inv =
      torch::pow(base, -2.0 * torch::arange(half, torch::kFloat64) / static_cast<double>(nr));
  auto ang = pos * inv;  // [T, half]
  auto a = x.narrow(-1, 0, half), b = x.narrow(-1, half, half);
  return torch::cat({a * ang.cos() - b * ang.sin(), b * ang.cos() + a * ang.sin(),
                     x.narrow(-1, nr, x.size(-1) - nr)},
                    -1);
}

Tensor attention_reference(const Tensor& q, const Tensor& k, const Tensor& v) {
  const int64_t t = q.size(2);
  auto scores = torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(static_cast<double>(q.size(-1)));
  auto mask = torch::ones({t, t}, torch::kBool).triu(1);
  return torch::matmul(torch::softmax(scores.masked_fill(mask, -INFINITY), -1), v);
}

// SwitchHead, all experts computed densely. x_qk feeds q, k and selections; x_v the values.
Tensor switch_head_reference(models::SwitchHeadImpl& m, const Tensor& x_qk, const Tensor& x_v) {
  const auto& o = m.options;
  const int64_t b = x_qk.size(0), t = x_qk.size(1), h = o.n_heads, dh = o.head_dim, e = o.n_experts;
  auto xq = f64(x_qk), xv = f64(x_v);
  auto heads = [&](const Tensor& y) { return y.view({b, t, h, dh}).transpose(1, 2); };
  auto q =
      rope_reference(heads(torch::matmul(xq, f64(m.q->weight).t())), o.rotated_dims(), o.rope_base);
  auto k =
      rope_reference(heads(torch::matmul(xq, f64(m.k->weight).t())), o.rotated_dims(), o.rope_base);
  if (e == 1) {
    auto v = heads(torch::matmul(xv, f64(m.v).t()));
    auto res = attention_reference(q, k, v).transpose(1, 2);  // [B, T, H, Dh]
    auto gate = torch::sigmoid(torch::matmul(xq, f64(m.sel_o).t())).unsqueeze(-1);
    return torch::matmul((res * gate).reshape({b, t, h * dh}), f64(m.o).t());
  }
  auto gates_of = [&](const Tensor& w) {  // [B, T, H, E], zero outside each head's top-k
    auto s = torch::sigmoid(torch::matmul(xq, f64(w).t())).view({b, t, h, e});
    return topk_gates(s, s, o.k);
  };
  auto gv = gates_of(m.sel_v), go = gates_of(m.sel_o);
  auto vw = f64(m.v).view({h, e, -1, dh}), ow = f64(m.o).view({h, e, dh, -1});
  // v[b, t, h, :] = sum_e gv[b,t,h,e] * x_v[b,t] @ V[h, e]
  auto v_all = torch::einsum("btd,hedk->bthek", {xv, vw});
  auto v = (v_all * gv.unsqueeze(-1)).sum(3).transpose(1, 2);  // [B, H, T, Dh]
  auto res = attention_reference(q, k, v).transpose(1, 2);     // [B, T, H, Dh]
  auto o_all = torch::einsum("bthk,hekd->bthed", {res, ow});
  return (o_all * go.unsqueeze(-1)).sum({2, 3});
}

TEST(RoutingReference, SwitchHeadMatchesDenseReference) {
  for (int64_t experts : {1, 4}) {
    SCOPED_TRACE("att_n_experts " + std::to_string(experts));
    torch::manual_seed(8);
    models::SwitchHeadOptions o;
    o.d_model = 16;
    o.n_heads = 3;
    o.head_dim = 10;  // rotates 4 dims of 10 at fraction 0.5 (largest even <= 5)
    o.n_experts = experts;
    o.k = 2;
    models::SwitchHead m(o);
    m->reset_parameters(1.0);
    auto x_qk = torch::randn({2, 7, 16}), x_v = torch::randn({2, 7, 16});
    torch::NoGradGuard no_grad;
    auto y = m(x_qk, x_v, 0, nullptr);
    EXPECT_TENSOR_NEAR(y, switch_head_reference(*m, x_qk, x_v), 1e-5);
  }
}

TEST(RoutingReference, MoEUTEntropyRegulariserMatchesTheDefinition) {
  // -H(mean over tokens and applications of softmax(logits)), averaged over the batch rows.
  torch::manual_seed(9);
  std::vector<Tensor> logits = {torch::randn({2, 3, 5}), torch::randn({2, 3, 5})};
  auto reg = baselines::entropy_regularizer(logits).item<double>();
  double expected = 0;
  for (int64_t b = 0; b < 2; ++b) {
    auto p = torch::cat(
                 {torch::softmax(f64(logits[0][b]), -1), torch::softmax(f64(logits[1][b]), -1)}, 0)
                 .mean(0);
    expected += (p * p.log()).sum().item<double>() / 2.0;
  }
  EXPECT_NEAR(reg, expected, 1e-6);
}

TEST(RoutingReference, MoEUTTracesEverySiteAndRegularisesOnlyInTraining) {
  torch::manual_seed(10);
  auto config = zoo::model_config_from_json(
      {{"family", "moeut"},
       {"vocab_size", 40},
       {"d_model", 24},
       {"n_layers", 4},
       {"group_size", 2},
       {"n_heads", 2},
       {"head_dim", 8},
       {"attention_experts", {{"n_experts", 3}, {"k", 2}}},
       {"ffn_experts", {{"n_experts", 5}, {"k", 2}, {"expert_dim", 8}}}});
  auto model = zoo::build_model(config);
  auto tokens = torch::randint(0, 40, {2, 6});
  models::ForwardOptions o;
  o.record_trace = true;
  model->train();
  auto out = model->forward(tokens, nullptr, o);
  // Minus an entropy: negative, and bounded by the uniform distributions' entropies.
  const double bound = 0.01 * 2 * std::log(5.0) + 0.001 * 2 * 2 * std::log(3.0);
  EXPECT_LT(out.aux_loss.item<double>(), 0.0);
  EXPECT_GE(out.aux_loss.item<double>(), -bound - 1e-6);
  ASSERT_EQ(out.trace.records.size(), 4u * 3u);  // ffn, attn_v, attn_o per layer application
  for (const auto& r : out.trace.records) {
    EXPECT_EQ(r.expert_ids.size(0), 12) << r.site;
    EXPECT_LT(r.expert_ids.max().item<int64_t>(), r.n_experts) << r.site;
  }
  model->eval();
  EXPECT_EQ(model->forward(tokens).aux_loss.item<double>(), 0.0);
}

}  // namespace
}  // namespace dreamer::testing
