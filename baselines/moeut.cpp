#include "baselines/moeut.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "models/blocks/checkpoint.h"
#include "models/memory.h"

namespace dreamer::baselines {

const ConfigFields<MoEUTConfig>& MoEUTConfig::fields() {
  static const ConfigFields<MoEUTConfig> kFields = [] {
    using C = MoEUTConfig;
    namespace doc = models::doc;
    ConfigFields<C> f;
    f.field("vocab_size", &C::vocab_size, doc::kVocabSize, models::positive<int64_t>());
    f.field("d_model", &C::d_model, doc::kDModel, models::positive<int64_t>());
    f.field("n_layers", &C::n_layers, "layer applications (group_size distinct layers)",
            models::positive<int64_t>());
    f.field("group_size", &C::group_size, "distinct layers G, repeated n_layers / G times",
            models::positive<int64_t>());
    f.field("n_heads", &C::n_heads, doc::kNHeads, models::positive<int64_t>());
    f.field("head_dim", &C::d_head, doc::kHeadDim, models::zero_or_positive<int64_t>());
    ConfigFields<C> att;
    models::add_pool_keys(att, &C::att_n_experts, &C::att_k);
    att.field("entropy_reg", &C::att_entropy_reg, "entropy regulariser weight (delta)",
              models::at_least(0.0));
    f.group("attention_experts", att, "SwitchHead V/O experts; n_experts 1 = dense, gated");
    ConfigFields<C> ffn;
    models::add_pool_keys(ffn, &C::ff_n_experts, &C::ff_k, &C::ff_expert_size,
                          models::positive<int64_t>());
    ffn.field("entropy_reg", &C::entropy_reg, "entropy regulariser weight (gamma)",
              models::at_least(0.0));
    f.group("ffn_experts", ffn, "sigma-MoE FFN experts");
    f.field("rope_base", &C::rope_base, doc::kRopeBase, models::positive<double>());
    f.field("rotate_fraction", &C::rotate_fraction, "share of each head RoPE rotates",
            models::in_range(0, 1));
    f.field("norm_eps", &C::norm_eps, doc::kNormEps, models::positive<double>());
    f.renamed("d_head", "head_dim");
    f.renamed("att_n_experts", "attention_experts.n_experts");
    f.renamed("att_k", "attention_experts.k");
    f.renamed("att_entropy_reg", "attention_experts.entropy_reg");
    f.renamed("ff_n_experts", "ffn_experts.n_experts");
    f.renamed("ff_k", "ffn_experts.k");
    f.renamed("ff_expert_size", "ffn_experts.expert_dim");
    f.renamed("entropy_reg", "ffn_experts.entropy_reg");
    return f;
  }();
  return kFields;
}

MoEUTConfig MoEUTConfig::from_json(const nlohmann::json& params, const std::string& path) {
  return models::parse_config<MoEUTConfig>(params, path);
}

nlohmann::json MoEUTConfig::to_json() const {
  return fields().write(*this);
}

void MoEUTConfig::validate(const std::string& p) const {
  fields().check(*this, p);
  require(
      n_layers % group_size == 0, p + ".group_size",
      "must divide n_layers (" + std::to_string(n_layers) + "), got " + std::to_string(group_size));
  require(head_dim() > 0, p + ".head_dim", "head dim d_model / n_heads is 0");
  if (att_n_experts > 1) models::validate_top_k(p + ".attention_experts", att_n_experts, att_k);
  models::validate_top_k(p + ".ffn_experts", ff_n_experts, ff_k);
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

Backbone MoEUTConfig::ends_backbone() const {
  Backbone b;
  b.vocab_size = vocab_size;
  b.d_model = d_model;
  b.norm = NormKind::kLayerNorm;
  b.norm_eps = norm_eps;
  b.tie_embeddings = false;
  return b;
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
  ends.build_embedding(*this, cfg_.ends_backbone());
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t g = 0; g < cfg_.group_size; ++g) {
    group.emplace_back(cfg_);
    layers->push_back(group.back());
  }
  ends.build_head(*this, cfg_.ends_backbone(), /*head_bias=*/true, "out_norm");
  // MoEUTLM.reset_parameters: kaiming-normal (fan_in, linear) embedding = N(0, 1/sqrt(d));
  // every expert layer scaled by sqrt(2 / n_layers); the LM head keeps nn.Linear's default.
  torch::NoGradGuard no_grad;
  ends.embedding->weight.normal_(0.0, 1.0 / std::sqrt(static_cast<double>(cfg_.d_model)));
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
  auto h = ends.embed(tokens, start, state);
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
  models::finish_output(out, ends.norm_out(h), ends.head(), options);
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

// Cost model of MoEUT (models/cost.h conventions). Every term mirrors a matmul in
// baselines/moeut.cpp and models/blocks/switch_head.cpp, models/blocks/experts.cpp, so the
// FLOP counter test (tests/matching/cost_model_test.cpp) can hold it to 1%.
namespace {

struct MoEUTShapes {
  double d, V, H, dh, Ea, ka, Ef, kf, de, L;
  bool switch_head;  // att_n_experts > 1: expert V/O with sigmoid selection
};

MoEUTShapes shapes_of(const MoEUTConfig& c) {
  MoEUTShapes s{};
  s.d = static_cast<double>(c.d_model);
  s.V = static_cast<double>(c.vocab_size);
  s.H = static_cast<double>(c.n_heads);
  s.dh = static_cast<double>(c.head_dim());
  s.Ea = static_cast<double>(c.att_n_experts);
  s.ka = static_cast<double>(c.att_k);
  s.Ef = static_cast<double>(c.ff_n_experts);
  s.kf = static_cast<double>(c.ff_k);
  s.de = static_cast<double>(c.ff_expert_size);
  s.L = static_cast<double>(c.n_layers);
  s.switch_head = c.att_n_experts > 1;
  return s;
}

// Forward matmul FLOPs per token of one layer application in a sequence of T tokens.
double layer_flops(const MoEUTShapes& s, double T) {
  double f = 4 * s.d * s.H * s.dh;  // q, k (dense)
  f += 4 * T * s.H * s.dh;          // scores + mix over the full T
  if (s.switch_head) {
    f += 2 * 2 * s.d * s.H * s.Ea;     // sel_v, sel_o logits
    f += 2 * s.H * s.ka * s.d * s.dh;  // selected V experts
    f += 2 * s.H * s.ka * s.dh * s.d;  // selected O experts
  } else {
    f += 2 * s.d * s.H * s.dh;  // dense v
    f += 2 * s.d * s.H;         // sigmoid output gate (sel_o)
    f += 2 * s.H * s.dh * s.d;  // dense o
  }
  f += 2 * s.d * s.Ef;         // σ-MoE router logits (identity query)
  f += s.kf * 4 * s.d * s.de;  // selected ReLU experts: up + down
  return f;
}

// Memory of one layer application (models/memory.h conventions). ln1 keeps its input h and
// mean/rstd; its output feeds q, k and the selection matmuls (4 readers with expert V/O, 3
// with the dense V and output gate). q and k keep their projection and rotated copy (when
// any dims rotate). Expert V: the gathered rows of h (one per head and choice), the sorted
// slot indices, and the values gathered back and gated; expert O likewise over the attention
// output. The sigma-MoE half: ln2's input and internals, its output read by the router,
// h itself gathered for the experts. Training adds the entropy regulariser's log-softmax of
// every selection's logits.
void layer_memory(models::memory::Ledger& l, const MoEUTShapes& s, double& per_call) {
  namespace mem = models::memory;
  const double d = s.d, H = s.H, dh = s.dh, ka = s.ka, Ea = s.Ea;
  l.tensor(d, l.resid);  // h, ln1's input
  mem::norm_internals(l, models::NormKind::kLayerNorm, d);
  mem::linear_inputs(l, d, s.switch_head ? 4 : 3);
  l.tensor(H * dh, l.lp, 2);  // q, k (rotated, or the projections' views)
  const double T = static_cast<double>(l.w.seq_len);
  auto attention_core = [&] {  // saved by SDPA or the reference, v counted by the caller
    if (l.w.fused_attention) {
      l.tensor(H * dh, l.lp);  // output
      l.tensor(H, 4);          // log-sum-exp
    } else {
      l.tensor(H * T, 4);
      if (l.lp < 4) l.tensor(H * T, l.lp);
      l.fixed(T * T);
    }
  };
  if (s.switch_head) {
    for (int site = 0; site < 2; ++site) {      // v, o selections
      l.tensor(H * Ea, 4);                      // sigmoid scores
      l.tensor(H * ka, 8);                      // ids
      l.tensor(H * ka, l.autocast ? l.lp : 4);  // gates
      l.tensor(H * ka, 8, 2);                   // slot indices
      l.tensor(H * Ea, 4);                      // entropy regulariser's log-softmax
    }
    l.tensor(H * ka * d, l.autocast ? l.lp : l.resid);  // V rows (h gathered)
    l.tensor(H * ka * dh, l.lp);                        // values gathered back
    l.tensor(H * dh, l.lp);                             // v, kept by attention
    attention_core();
    l.tensor(H * ka * dh, l.lp);  // O rows (attention output gathered)
    l.tensor(H * ka * d, l.lp);   // O outputs gathered back
    per_call += l.autocast ? 2 * H * Ea * d * dh * l.lp + 2 * H * Ea * d * l.lp : 0;
  } else {
    mem::linear_inputs(l, d, 1, /*exists=*/true);  // v reads h
    l.tensor(H * dh, l.lp);                        // v
    attention_core();
    if (!l.w.fused_attention) l.tensor(H * dh, l.lp);  // the attention output (gated)
    l.tensor(H, l.lp);                                 // the sigmoid gate
    l.tensor(H * dh, l.lp);                            // the gated output reshaped for o
    per_call += l.autocast ? 2 * H * dh * d * l.lp + H * d * l.lp : 0;
  }
  l.tensor(d, l.resid);  // h + attention, ln2's input and the experts' input
  mem::norm_internals(l, models::NormKind::kLayerNorm, d);
  mem::linear_inputs(l, d, 1);  // the router's logits read ln2's output
  mem::RouterShape rs;
  rs.d = d, rs.dk = d, rs.experts = s.Ef, rs.k = s.kf, rs.renormalize = false;
  mem::router(l, rs);
  l.tensor(s.Ef, 4);  // entropy regulariser's log-softmax
  // The experts gather h itself (not a norm output): under fp32 the gathered rows are new.
  per_call += mem::experts(l, d, s.de, s.Ef, s.kf, models::Activation::kReLU, false);
  per_call += l.autocast ? s.Ef * d * l.lp : 0;  // expert_keys.t(), cast per call
}

}  // namespace

models::Cost moeut_cost(const MoEUTConfig& c, const models::Workload& w) {
  const MoEUTShapes s = shapes_of(c);
  const double T = static_cast<double>(w.seq_len);
  models::Cost cost;
  cost.params = c.parameter_counts();
  const double unselected =
      (s.switch_head ? 2 * s.H * s.Ea * s.d * s.dh * (1.0 - s.ka / s.Ea) : 0) +
      s.Ef * 2 * s.d * s.de * (1.0 - s.kf / s.Ef);
  cost.active_params = cost.params.total - static_cast<int64_t>(unselected);

  // n_layers applications of the G shared layers, all with gradients; regularisers are
  // training-only and matmul-free.
  const double head = 2 * s.d * s.V;
  const double layers = s.L * layer_flops(s, T);
  cost.flops_forward_per_token = layers + head;
  cost.flops_train_per_token = 3 * cost.flops_forward_per_token;

  namespace mem = models::memory;
  mem::Ledger saved(w);
  double per_call = 0, recompute = 0;
  if (w.activation_checkpointing)
    throw std::invalid_argument(
        "workload.activation_checkpointing is not supported by moeut: its entropy regulariser "
        "reads every layer's selection logits (not implemented)");
  for (int64_t i = 0; i < c.n_layers; ++i) layer_memory(saved, s, per_call);
  // out_norm is a LayerNorm
  saved.tensor(s.d, saved.resid);
  mem::norm_internals(saved, models::NormKind::kLayerNorm, s.d);
  mem::linear_inputs(saved, s.d, 1);
  const double kv = s.L * 2 * s.H * s.dh * T * w.batch;  // a KV cache per layer application
  saved.backward_buffers =
      (s.L > static_cast<double>(c.group_size) ? cost.params.non_embedding : 0) * saved.resid +
      (s.Ef * 2 * s.d * s.de + (s.switch_head ? 2 * s.H * s.Ea * s.d * s.dh : 0)) * saved.resid;
  mem::finish(cost, w, saved, s.d, s.V, static_cast<double>(cost.params.non_embedding) + s.V * s.d,
              per_call, kv, recompute);
  return cost;
}

models::FamilyInfo moeut_family() {
  auto info = make_family<MoEUTConfig, MoEUT>(
      "moeut", "MoE Universal Transformer: grouped shared layers of SwitchHead + sigma-MoE",
      "Csordas et al. 2024, arXiv 2405.16039; RobertCsordas/moeut moeut.py, profiles.py");
  auto profile = [](int64_t d, int64_t layers, int64_t heads, int64_t ff_e, int64_t att_e,
                    int64_t head_dim, int64_t ff_k, int64_t g) {
    return nlohmann::json{{"d_model", d},
                          {"n_layers", layers},
                          {"n_heads", heads},
                          {"head_dim", head_dim},
                          {"group_size", g},
                          {"attention_experts", {{"n_experts", att_e}}},
                          {"ffn_experts", {{"n_experts", ff_e}, {"k", ff_k}}}};
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
      {"ffn_experts.n_experts", 1, 4096, 1, ""},
      {"ffn_experts.k", 1, 128, 1, "<= ffn_experts.n_experts"},
      {"attention_experts.n_experts", 1, 64, 1, "1 = dense V/O with a sigmoid output gate"},
      {"head_dim", 0, 1024, 2, "0 = d_model / n_heads"},
  };
  return info;
}

}  // namespace dreamer::baselines
