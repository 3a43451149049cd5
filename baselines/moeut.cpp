#include "baselines/moeut.h"

#include <cmath>

#include "models/blocks/checkpoint.h"

namespace dreamer::baselines {

MoEUTConfig MoEUTConfig::from_json(const nlohmann::json& params, const std::string& path) {
  MoEUTConfig c;
  JsonReader r(params, path);
  r.get("vocab_size", c.vocab_size);
  r.get("d_model", c.d_model);
  r.get("n_layers", c.n_layers);
  r.get("group_size", c.group_size);
  r.get("n_heads", c.n_heads);
  r.get("d_head", c.d_head);
  r.get("att_n_experts", c.att_n_experts);
  r.get("att_k", c.att_k);
  r.get("ff_n_experts", c.ff_n_experts);
  r.get("ff_k", c.ff_k);
  r.get("ff_expert_size", c.ff_expert_size);
  r.get("entropy_reg", c.entropy_reg);
  r.get("att_entropy_reg", c.att_entropy_reg);
  r.get("rope_base", c.rope_base);
  r.get("rotate_fraction", c.rotate_fraction);
  r.get("norm_eps", c.norm_eps);
  r.finish();
  c.validate(path);
  return c;
}

nlohmann::json MoEUTConfig::to_json() const {
  return {{"vocab_size", vocab_size},
          {"d_model", d_model},
          {"n_layers", n_layers},
          {"group_size", group_size},
          {"n_heads", n_heads},
          {"d_head", d_head},
          {"att_n_experts", att_n_experts},
          {"att_k", att_k},
          {"ff_n_experts", ff_n_experts},
          {"ff_k", ff_k},
          {"ff_expert_size", ff_expert_size},
          {"entropy_reg", entropy_reg},
          {"att_entropy_reg", att_entropy_reg},
          {"rope_base", rope_base},
          {"rotate_fraction", rotate_fraction},
          {"norm_eps", norm_eps}};
}

void MoEUTConfig::validate(const std::string& p) const {
  auto at = [&](const std::string& f) { return p + "." + f; };
  auto positive = [&](int64_t v, const std::string& f) {
    require(v > 0, at(f), "must be positive, got " + std::to_string(v));
  };
  positive(vocab_size, "vocab_size");
  positive(d_model, "d_model");
  positive(n_layers, "n_layers");
  positive(group_size, "group_size");
  positive(n_heads, "n_heads");
  positive(att_n_experts, "att_n_experts");
  positive(ff_n_experts, "ff_n_experts");
  positive(ff_expert_size, "ff_expert_size");
  require(
      n_layers % group_size == 0, at("group_size"),
      "must divide n_layers (" + std::to_string(n_layers) + "), got " + std::to_string(group_size));
  require(d_head >= 0, at("d_head"), "must be positive (or 0 for d_model / n_heads)");
  require(head_dim() > 0, at("d_head"), "head dim d_model / n_heads is 0");
  if (att_n_experts > 1)
    require(att_k >= 1 && att_k <= att_n_experts, at("att_k"),
            "must be between 1 and att_n_experts (" + std::to_string(att_n_experts) + "), got " +
                std::to_string(att_k));
  require(ff_k >= 1 && ff_k <= ff_n_experts, at("ff_k"),
          "must be between 1 and ff_n_experts (" + std::to_string(ff_n_experts) + "), got " +
              std::to_string(ff_k));
  require(entropy_reg >= 0, at("entropy_reg"), "must be >= 0");
  require(att_entropy_reg >= 0, at("att_entropy_reg"), "must be >= 0");
  require(rotate_fraction >= 0 && rotate_fraction <= 1, at("rotate_fraction"), "must be in [0, 1]");
  require(norm_eps > 0, at("norm_eps"), "must be positive");
}

models::SwitchHeadOptions MoEUTConfig::attention() const {
  models::SwitchHeadOptions o;
  o.d_model = d_model;
  o.n_heads = n_heads;
  o.head_dim = head_dim();
  o.n_experts = att_n_experts;
  o.k = att_k;
  o.rope_base = rope_base;
  o.rotate_fraction = rotate_fraction;
  return o;
}

ParameterCounts MoEUTConfig::parameter_counts() const {
  const int64_t d = d_model;
  const int64_t ffn = ff_n_experts * d * ff_expert_size * 2 + ff_n_experts * d;
  const int64_t layer = models::switch_head_parameters(attention()) + ffn + 2 * 2 * d;  // ln1, ln2
  ParameterCounts c;
  c.embedding = vocab_size * d + vocab_size * d + vocab_size;  // embedding, lm_head + bias
  c.non_embedding = group_size * layer + 2 * d;                // + out_norm
  c.total = c.embedding + c.non_embedding;
  return c;
}

SigmaMoEImpl::SigmaMoEImpl(int64_t d, int64_t n_experts, int64_t expert_size, int64_t k) {
  models::RouterOptions o;
  o.d_model = d;
  o.n_experts = n_experts;
  o.k = k;
  o.gate = models::GateKind::kSigmoid;
  o.renormalize = false;
  o.balancing_bias = false;
  o.query = models::RouterQuery::kIdentity;
  router = register_module("router", models::Router(o));
  experts = register_module(
      "experts", models::ExpertFFN(n_experts, d, expert_size, models::Activation::kReLU));
}

void SigmaMoEImpl::reset_parameters(double s) {
  torch::NoGradGuard no_grad;
  const double d = static_cast<double>(router->options.d_model);
  auto& sel = router->expert_keys;
  sel.normal_(0.0, s / std::sqrt(d));
  // renorm_keep_std(expert_sel, dim=1): unit rows, then the original overall std.
  const auto std = sel.std();
  sel.div_(sel.norm(2, 1, true));
  sel.mul_(std / sel.std());
  experts->w_up.normal_(0.0, s / std::sqrt(d));
  experts->w_down.normal_(
      0.0, s / std::sqrt(static_cast<double>(experts->n_experts * experts->expert_dim)));
}

torch::Tensor SigmaMoEImpl::forward(const torch::Tensor& x, const torch::Tensor& x_sel,
                                    models::RouterOutput* routed) {
  const int64_t d = x.size(-1);
  auto r = router(x_sel.reshape({-1, d}));
  auto y = experts(x.reshape({-1, d}), r.ids, r.gates);
  if (routed) *routed = r;
  return y.view_as(x);
}

MoEUTLayerImpl::MoEUTLayerImpl(const MoEUTConfig& c) {
  ln1 = register_module("ln1", models::Norm(c.d_model, NormKind::kLayerNorm, c.norm_eps));
  ln2 = register_module("ln2", models::Norm(c.d_model, NormKind::kLayerNorm, c.norm_eps));
  attention = register_module("attention", models::SwitchHead(c.attention()));
  ffn = register_module("ffn", SigmaMoE(c.d_model, c.ff_n_experts, c.ff_expert_size, c.ff_k));
}

torch::Tensor entropy_regularizer(const std::vector<torch::Tensor>& logits) {
  auto sel = torch::stack(logits, 2).flatten(1, 2);  // [B, T*R, ..., E]
  auto log_p = torch::log_softmax(sel.to(torch::kFloat32), -1);
  auto log_mean = torch::logsumexp(log_p, 1) - std::log(static_cast<double>(sel.size(1)));
  auto entropy = -(log_mean * log_mean.exp()).sum(-1);  // [B, ...]
  return -entropy.mean();
}

MoEUT::MoEUT(const models::ModelConfig& config)
    : LanguageModel(config), cfg_(MoEUTConfig::from_json(config.params, "$")) {
  embedding = register_module("embedding", torch::nn::Embedding(cfg_.vocab_size, cfg_.d_model));
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t g = 0; g < cfg_.group_size; ++g) {
    group.emplace_back(cfg_);
    layers->push_back(group.back());
  }
  out_norm =
      register_module("out_norm", models::Norm(cfg_.d_model, NormKind::kLayerNorm, cfg_.norm_eps));
  lm_head = register_module("lm_head", torch::nn::Linear(cfg_.d_model, cfg_.vocab_size));
  // MoEUTLM.reset_parameters: kaiming-normal (fan_in, linear) embedding = N(0, 1/sqrt(d));
  // every expert layer scaled by sqrt(2 / n_layers); the LM head keeps nn.Linear's default.
  torch::NoGradGuard no_grad;
  embedding->weight.normal_(0.0, 1.0 / std::sqrt(static_cast<double>(cfg_.d_model)));
  const double scale = std::sqrt(2.0 / static_cast<double>(cfg_.n_layers));
  for (auto& layer : group) {
    layer->attention->reset_parameters(scale);
    layer->ffn->reset_parameters(scale);
  }
}

ModelOutput MoEUT::forward(const torch::Tensor& tokens, InferenceState* state,
                           const ForwardOptions& options) {
  models::ActivationCheckpointing::refuse(
      "moeut", "its entropy regulariser reads every layer's selection logits (not implemented)");
  const int64_t start = prepare_state(state, cfg_.n_layers);
  const int64_t g_count = cfg_.group_size, repeats = cfg_.n_layers / cfg_.group_size;
  const bool collect = is_training();
  std::vector<std::vector<torch::Tensor>> ffn_sel(g_count), v_sel(g_count), o_sel(g_count);
  ModelOutput out;
  out.recurrences = 1;
  auto h = embedding(tokens);
  const int64_t n_tokens = tokens.numel();
  for (int64_t r = 0; r < repeats; ++r) {
    for (int64_t g = 0; g < g_count; ++g) {
      auto& layer = group[static_cast<size_t>(g)];
      const int64_t depth = r * g_count + g;
      models::SwitchHeadSelection att_sel;
      auto xn = layer->ln1(h);
      h = h + layer->attention(xn, h, start, cache_at(state, depth), &att_sel);
      models::RouterOutput routed;
      h = h + layer->ffn(h, layer->ln2(h), &routed);
      if (collect) {
        ffn_sel[g].push_back(routed.logits.view({tokens.size(0), tokens.size(1), -1}));
        if (att_sel.v_logits.defined()) {
          v_sel[g].push_back(att_sel.v_logits);
          o_sel[g].push_back(att_sel.o_logits);
        }
      }
      if (options.record_trace) {
        // Layer g of the group runs at depths g+1, g+1+G, ...: one parameter set, one pool.
        const std::string pool = "layer" + std::to_string(g + 1);
        out.trace.records.push_back(
            {"ffn", depth + 1, cfg_.ff_n_experts, routed.ids, routed.gates.detach(), pool});
        if (att_sel.v_ids.defined()) {
          const int64_t he = cfg_.n_heads * cfg_.att_n_experts;
          auto shift = (torch::arange(cfg_.n_heads, torch::dtype(torch::kLong).device(h.device())) *
                        cfg_.att_n_experts)
                           .view({1, 1, -1, 1});
          out.trace.records.push_back({"attn_v", depth + 1, he,
                                       (att_sel.v_ids + shift).reshape({n_tokens, -1}),
                                       att_sel.v_gates.detach().reshape({n_tokens, -1}), pool});
          out.trace.records.push_back({"attn_o", depth + 1, he,
                                       (att_sel.o_ids + shift).reshape({n_tokens, -1}),
                                       att_sel.o_gates.detach().reshape({n_tokens, -1}), pool});
        }
      }
      if (options.record_states) out.states.push_back(h);
    }
  }
  models::finish_output(out, out_norm(h), head(), options);
  if (collect) {
    for (int64_t g = 0; g < g_count; ++g) {
      out.aux_loss = out.aux_loss + cfg_.entropy_reg * entropy_regularizer(ffn_sel[g]);
      if (!v_sel[g].empty())
        out.aux_loss = out.aux_loss + cfg_.att_entropy_reg * (entropy_regularizer(o_sel[g]) +
                                                              entropy_regularizer(v_sel[g]));
    }
  }
  finish_state(state, tokens);
  return out;
}

models::HeadWeights MoEUT::head() const {
  return {lm_head->weight, lm_head->bias};
}

models::FamilyInfo moeut_family() {
  auto info = make_family<MoEUTConfig, MoEUT>(
      "moeut", "MoE Universal Transformer: grouped shared layers of SwitchHead + sigma-MoE",
      "Csordas et al. 2024, arXiv 2405.16039; RobertCsordas/moeut moeut.py, profiles.py");
  auto profile = [](int64_t d, int64_t layers, int64_t heads, int64_t ff_e, int64_t att_e,
                    int64_t d_head, int64_t ff_k, int64_t g) {
    return nlohmann::json{{"d_model", d},         {"n_layers", layers},     {"n_heads", heads},
                          {"ff_n_experts", ff_e}, {"att_n_experts", att_e}, {"d_head", d_head},
                          {"ff_k", ff_k},         {"group_size", g}};
  };
  info.presets = {
      {"44M", profile(412, 16, 4, 155, 8, 82, 12, 2)},
      {"126M", profile(768, 18, 4, 254, 10, 96, 12, 2)},
      {"244M", profile(1024, 18, 4, 387, 10, 128, 16, 2)},
      {"318M", profile(1024, 24, 4, 338, 10, 128, 16, 3)},
      {"727M", profile(1024, 36, 5, 467, 13, 128, 20, 4)},
      {"1B", profile(1536, 36, 6, 565, 12, 128, 24, 4)},
  };
  info.cost = [](const models::ModelConfig& config, const models::Workload& workload) {
    return moeut_cost(MoEUTConfig::from_json(config.params, "$"), workload);
  };
  info.free_hyperparameters = {
      {"d_model", 64, 16384, 1, ""},
      {"n_layers", 1, 256, 1, "multiple of group_size"},
      {"group_size", 1, 64, 1, "divides n_layers"},
      {"ff_n_experts", 1, 4096, 1, ""},
      {"ff_k", 1, 128, 1, "<= ff_n_experts"},
      {"att_n_experts", 1, 64, 1, "1 = dense V/O with a sigmoid output gate"},
      {"d_head", 0, 1024, 2, "0 = d_model / n_heads"},
  };
  return info;
}

}  // namespace dreamer::baselines
