// The harness's MoEUT against the official RobertCsordas/moeut moeut.py (MoEUTLM) on two tiny
// configurations (SwitchHead with experts; the att_n_experts = 1 gated special case).
// tests/fixtures/moeut/reference.json holds the reference's weights, tokens, evaluation logits
// and training-mode reg_loss, written by tests/fixtures/moeut/make_reference.py (Debian's
// python3-torch; the triton kernel launch replaced by a plain-PyTorch statement of it, the
// rest of the reference unmodified).
#include <gtest/gtest.h>

#include <cmath>

#include "baselines/moeut.h"
#include "tests/baselines/reference_fixture.h"
#include "tests/test_util.h"
#include "zoo/registry.h"

namespace dreamer::testing {
namespace {

// MoEUTLM's constructor arguments -> the harness config (defaults elsewhere: entropy_reg
// 0.01 / 0.001, rope base 10000, rotate_fraction 0.5, att_k 2 are the reference's too).
// The reference's flat names map to ours (docs/DESIGN.md, "Config names").
nlohmann::json harness_config(const nlohmann::json& ref) {
  nlohmann::json j = {{"family", "moeut"}, {"vocab_size", ref.at("n_tokens")}};
  const std::vector<std::pair<std::string, std::string>> names = {
      {"d_model", "/d_model"},
      {"n_layers", "/n_layers"},
      {"group_size", "/group_size"},
      {"n_heads", "/n_heads"},
      {"d_head", "/head_dim"},
      {"att_n_experts", "/attention_experts/n_experts"},
      {"ff_n_experts", "/ffn_experts/n_experts"},
      {"ff_k", "/ffn_experts/k"},
      {"ff_expert_size", "/ffn_experts/expert_dim"}};
  for (const auto& [reference, ours] : names)
    j[nlohmann::json::json_pointer(ours)] = ref.at(reference);
  if (ref.contains("att_k")) j["attention_experts"]["k"] = ref.at("att_k");
  return j;
}

// Reference names -> ours: the names match except the σ-MoE's (keys, values, expert_sel) and
// the "transformer." prefix; every layout is the same.
std::map<std::string, torch::Tensor> map_weights(const nlohmann::json& c, double scale) {
  const std::vector<std::pair<std::string, std::string>> renames = {
      {".ffn.keys", ".ffn.experts.w_up"},
      {".ffn.values", ".ffn.experts.w_down"},
      {".ffn.expert_sel", ".ffn.router.expert_keys"}};
  std::map<std::string, torch::Tensor> out;
  for (const auto& item : c.at("weights").items()) {
    std::string name = item.key();
    const std::string prefix = "transformer.";
    if (name.rfind(prefix, 0) == 0) name = name.substr(prefix.size());
    for (const auto& [from, to] : renames) {
      const auto at = name.find(from);
      if (at != std::string::npos && at + from.size() == name.size())
        name = name.substr(0, at) + to;
    }
    out[name] = fixture_ints(item.value(), scale);
  }
  return out;
}

TEST(MoEUTReference, ForwardAndEntropyRegularisersEqualMoEUTLM) {
  const auto fixture = read_reference_fixture("moeut/reference.json");
  const double scale = fixture.at("scale").get<double>();
  ASSERT_EQ(fixture.at("cases").size(), 2u);
  for (const auto& c : fixture.at("cases")) {
    SCOPED_TRACE(c.at("name").get<std::string>());
    auto model = zoo::build_model(zoo::model_config_from_json(harness_config(c.at("config"))));
    load_parameters(*model, map_weights(c, scale));
    torch::NoGradGuard no_grad;
    const auto tokens = fixture_tokens(c.at("tokens"));
    model->eval();
    const auto expected = fixture_floats(c.at("logits"));
    auto logits = model->forward(tokens).logits;
    ASSERT_EQ(logits.sizes(), expected.sizes());
    const double error = max_relative_error(logits, expected);
    RecordProperty("max_relative_error_" + c.at("name").get<std::string>(), three_digits(error));
    EXPECT_LE(error, 1e-4);
    // Training mode: same outputs (no dropout) plus the entropy regularisers in aux_loss.
    model->train();
    const double reg = c.at("reg_loss").get<double>();
    const double aux = model->forward(tokens).aux_loss.item<double>();
    RecordProperty("reg_loss_relative_error_" + c.at("name").get<std::string>(),
                   three_digits(std::abs(aux - reg) / std::abs(reg)));
    EXPECT_NEAR(aux, reg, 1e-4 * std::abs(reg))
        << "aux_loss " << aux << " reference reg_loss " << reg;
  }
}

}  // namespace
}  // namespace dreamer::testing
