#include "baselines/moe_transformer.h"

#include "models/blocks/checkpoint.h"
#include "models/cost.h"
#include "models/memory.h"

namespace dreamer::baselines {

using models::Activation;

const ConfigFields<MoETransformerConfig>& MoETransformerConfig::fields() {
  static const ConfigFields<MoETransformerConfig> kFields = [] {
    using C = MoETransformerConfig;
    using M = MoEOptions;
    ConfigFields<M> m;
    models::add_pool_keys(m, &M::n_experts, &M::k, &M::expert_dim,
                          models::zero_or_positive<int64_t>(),
                          "hidden width of one expert; 0 = the dense FFN default");
    m.choice("activation", &M::activation, models::activation_names(), "expert activation");
    models::add_router_keys(m, &M::gate, &M::renormalize, &M::balancing_bias, &M::bias_update_rate,
                            &M::bias_placement);
    m.field("aux_loss_coef", &M::aux_loss_coef, "Switch load-balancing loss weight; 0 = off",
            models::at_least(0.0));
    m.field("n_shared_experts", &M::n_shared_experts, "dense experts every token goes through",
            models::at_least<int64_t>(0));
    ConfigFields<C> f;
    f.embed(&C::backbone, Backbone::fields());
    f.field("n_layers", &C::n_layers, "transformer blocks", models::at_least<int64_t>(1));
    f.object("ffn_experts", &C::moe, m, "the routed experts that replace the MLP");
    f.renamed("moe", "ffn_experts");
    return f;
  }();
  return kFields;
}

MoETransformerConfig MoETransformerConfig::from_json(const nlohmann::json& params,
                                                     const std::string& path) {
  return models::parse_config<MoETransformerConfig>(params, path);
}

nlohmann::json MoETransformerConfig::to_json() const {
  return fields().write(*this);
}

void MoETransformerConfig::validate(const std::string& p) const {
  fields().check(*this, p);
  backbone.validate_layout(p, true);
  models::validate_top_k(p + ".ffn_experts", moe.n_experts, moe.k);
}

int64_t MoETransformerConfig::expert_dim() const {
  return moe.expert_dim ? moe.expert_dim : default_ffn_hidden(backbone.d_model, moe.activation);
}

models::TransformerBlockOptions MoETransformerConfig::block() const {
  models::TransformerBlockOptions o;
  o.attention = backbone.attention(true);
  o.norm = backbone.norm;
  o.norm_eps = backbone.norm_eps;
  o.ffn_hidden = 0;
  return o;
}

ParameterCounts MoETransformerConfig::parameter_counts() const {
  const int64_t d = backbone.d_model, de = expert_dim();
  const int64_t mats = moe.activation == Activation::kSwiGLU ? 3 : 2;
  int64_t layer = models::transformer_block_parameters(block()) + moe.n_experts * d  // router
                  + moe.n_experts * d * de * mats;
  if (moe.n_shared_experts > 0)
    layer += models::feed_forward_parameters(d, moe.n_shared_experts * de, moe.activation, false);
  ParameterCounts c;
  c.embedding = backbone.embedding_parameters();
  c.non_embedding = n_layers * layer + models::norm_parameters(backbone.norm, d);
  c.total = c.embedding + c.non_embedding;
  return c;
}

torch::Tensor switch_aux_loss(const models::RouterOutput& routed, int64_t n_experts) {
  const auto n_slots = static_cast<double>(routed.ids.numel());
  // Counted with scatter_add on the device: bincount sizes its output from the maximum id,
  // which reads it on the host (a synchronisation per layer on a GPU).
  const auto flat = routed.ids.reshape(-1);
  auto f =
      torch::zeros({n_experts}, routed.scores.options().dtype(torch::kFloat32))
          .scatter_add_(0, flat,
                        torch::ones(flat.sizes(), routed.scores.options().dtype(torch::kFloat32))) /
      n_slots;
  auto probs = routed.scores / routed.scores.sum(-1, true);
  return static_cast<double>(n_experts) * (f * probs.mean(0)).sum();
}

MoELayerImpl::MoELayerImpl(const MoETransformerConfig& c) : options(c.moe) {
  const int64_t d = c.backbone.d_model;
  block = register_module("block", models::TransformerBlock(c.block()));
  models::RouterOptions ro;
  ro.d_model = d;
  ro.n_experts = c.moe.n_experts;
  ro.k = c.moe.k;
  ro.gate = c.moe.gate;
  ro.renormalize = c.moe.renormalize;
  ro.balancing_bias = c.moe.balancing_bias;
  ro.bias_update_rate = c.moe.bias_update_rate;
  ro.bias_placement = c.moe.bias_placement;
  ro.query = models::RouterQuery::kIdentity;  // logits = x W_g^T, W_g = expert_keys [E, d]
  router = register_module("router", models::Router(ro));
  experts = register_module(
      "experts", models::ExpertFFN(c.moe.n_experts, d, c.expert_dim(), c.moe.activation));
  if (c.moe.n_shared_experts > 0)
    shared = register_module(
        "shared",
        models::FeedForward(d, c.moe.n_shared_experts * c.expert_dim(), c.moe.activation));
}

torch::Tensor MoELayerImpl::moe(const torch::Tensor& x, torch::Tensor* aux,
                                models::RoutingRecord* record) {
  const int64_t d = x.size(-1);
  auto rows = x.reshape({-1, d});  // [N, d]
  auto routed = router(rows);
  auto y = experts(rows, routed.ids, routed.gates);
  if (shared) y = y + shared(rows);
  if (aux && is_training() && options.aux_loss_coef > 0)
    *aux = *aux + switch_aux_loss(routed, options.n_experts);
  if (record) {
    record->site = "ffn";
    record->n_experts = options.n_experts;
    record->expert_ids = routed.ids;
    record->gates = routed.gates.detach();
  }
  return y.view_as(x);
}

torch::Tensor MoELayerImpl::forward(const torch::Tensor& h, int64_t start, KVCache* cache,
                                    torch::Tensor* aux, models::RoutingRecord* record) {
  auto y = block->attention_residual(h, start, cache);
  return block->mlp_residual(y, [&](const torch::Tensor& x) { return moe(x, aux, record); });
}

MoETransformer::MoETransformer(const models::ModelConfig& config)
    : LanguageModel(config), cfg_(MoETransformerConfig::from_json(config.params, "$")) {
  ends.build(*this, cfg_.backbone, 0);
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < cfg_.n_layers; ++i) {
    moe_layers.emplace_back(cfg_);
    layers->push_back(moe_layers.back());
  }
  init_gpt2_style(*this, cfg_.backbone.init_std, 2 * cfg_.n_layers);
}

bool MoETransformer::decode_step_capturable(const torch::Device& device) const {
  for (const auto& layer : moe_layers)
    if (!layer->experts->grouped_on(device)) return false;
  return true;
}

ModelOutput MoETransformer::forward(const torch::Tensor& tokens, InferenceState* state,
                                    const ForwardOptions& options) {
  const int64_t start = prepare_state(state, cfg_.n_layers);
  ModelOutput out;
  out.recurrences = 1;
  auto h = ends.embed(tokens, start, state);
  auto aux = torch::zeros({}, h.options().dtype(torch::kFloat32));
  for (size_t i = 0; i < moe_layers.size(); ++i) {
    models::RoutingRecord record;
    record.depth = static_cast<int64_t>(i) + 1;
    record.pool = "layer" + std::to_string(record.depth);  // every layer has its own experts
    if (models::ActivationCheckpointing::active() && !state && !options.record_trace) {
      // The layer's output and its auxiliary-loss term are the checkpoint's outputs.
      auto layer = moe_layers[i];
      auto outs = models::checkpoint(
          [layer](const std::vector<torch::Tensor>& x) mutable {
            auto part = torch::zeros({}, x[0].options().dtype(torch::kFloat32));
            auto y = layer->forward(x[0], 0, nullptr, &part, nullptr);
            return std::vector<torch::Tensor>{y, part};
          },
          {h});
      h = outs[0];
      aux = aux + outs[1];
    } else {
      h = moe_layers[i]->forward(h, start, cache_at(state, static_cast<int64_t>(i)), &aux,
                                 options.record_trace ? &record : nullptr);
    }
    if (options.record_trace) out.trace.records.push_back(record);
    if (options.record_states) out.states.push_back(h);
  }
  models::finish_output(out, ends.norm_out(h), ends.head(), options);
  out.aux_loss = aux * (cfg_.moe.aux_loss_coef / static_cast<double>(cfg_.n_layers));
  finish_state(state, tokens);
  return out;
}

void MoETransformer::after_optimizer_step() {
  for (auto& layer : moe_layers) layer->router->update_bias();
}

// Cost model of the MoE transformer (models/cost.h conventions). Every term mirrors a matmul
// in baselines/moe_transformer.cpp and models/blocks/* (attention, router logits x W_g^T, the
// k selected experts, the always-on shared experts), so the FLOP counter test can hold it to
// 1%. The Switch auxiliary loss is bincount/elementwise only (and training-only): 0 FLOPs.
models::Cost moe_transformer_cost(const MoETransformerConfig& c, const models::Workload& w) {
  const auto& b = c.backbone;
  const double d = b.d_model, V = b.vocab_size, H = b.n_heads, Hkv = b.kv_heads(),
               dh = b.seq_head_dim(), L = c.n_layers, T = w.seq_len;
  const double E = c.moe.n_experts, k = c.moe.k, de = c.expert_dim(),
               shared_h = c.moe.n_shared_experts * de;
  const double mats = c.moe.activation == models::Activation::kSwiGLU ? 3 : 2;

  double layer = models::sequence_attention_flops(d, H, Hkv, dh, T);
  layer += 2 * d * E;                // router logits
  layer += k * 2 * mats * d * de;    // the selected experts
  layer += 2 * mats * d * shared_h;  // shared experts
  const double head = 2 * d * V;

  models::Cost cost;
  cost.params = c.parameter_counts();
  const double inactive = L * (E - k) * mats * d * de;
  cost.active_params = cost.params.total - static_cast<int64_t>(inactive);
  cost.flops_forward_per_token = L * layer + head;
  cost.flops_train_per_token = 3 * cost.flops_forward_per_token;

  // Memory (models/memory.h). The MoE half: n3's internals, its output read by the router's
  // logits matmul and the shared experts' input projection(s), the router, the experts, the
  // shared FFN's hidden state and the Switch auxiliary loss's denominator.
  namespace mem = models::memory;
  mem::BlockShape bs;
  bs.d = d, bs.heads = H, bs.kv_heads = Hkv, bs.head_dim = dh, bs.norm = b.norm;
  const bool gated = c.moe.activation == models::Activation::kSwiGLU;
  double per_call_autocast = 0;
  auto layer_bytes = [&](mem::Ledger& l) {
    mem::block_attention_half(l, bs);
    mem::norm_internals(l, b.norm, d);
    mem::linear_inputs(l, d, 1 + (shared_h > 0 ? (gated ? 2 : 1) : 0));
    mem::RouterShape rs;
    rs.d = d, rs.dk = d, rs.experts = E, rs.k = k, rs.renormalize = c.moe.renormalize;
    mem::router(l, rs);
    if (c.moe.aux_loss_coef > 0) l.tensor(1, 4);  // scores.sum for the balance loss
    per_call_autocast = mem::experts(l, d, de, E, k, c.moe.activation, gated);
    if (shared_h > 0) mem::ffn_hidden(l, c.moe.activation, shared_h);
  };
  mem::Ledger saved(w);
  double recompute = 0;
  if (w.activation_checkpointing) {
    saved.tensor(d, saved.resid, L);
    mem::Ledger one(w);
    layer_bytes(one);
    recompute = one.bytes();
    cost.flops_recompute_per_token = L * layer;
    cost.flops_train_per_token += cost.flops_recompute_per_token;
  } else {
    for (int64_t i = 0; i < c.n_layers; ++i) layer_bytes(saved);
  }
  mem::lm_head_inputs(saved, b.norm, d);
  const double kv = L * 2 * Hkv * dh * T * w.batch;
  saved.backward_buffers = E * mats * d * de * saved.resid;  // one layer's expert gradients
  saved.tied_head = b.tie_embeddings;
  mem::finish(cost, w, saved, d, V, static_cast<double>(cost.params.non_embedding) + V * d,
              L * per_call_autocast, kv, recompute);
  return cost;
}

models::FamilyInfo moe_transformer_family() {
  auto info = make_family<MoETransformerConfig, MoETransformer>(
      "moe_transformer", "pre-norm transformer with a token-choice top-k mixture-of-experts MLP",
      "Fedus et al. 2021 (Switch aux loss); Dai et al. 2024 (DeepSeekMoE shared + fine-grained "
      "experts); DeepSeek-V3 / pytorch/torchtitan models/common/moe.py (sigmoid gates, "
      "expert_bias)");
  info.presets = {
      {"switch_softmax_aux",
       {{"ffn_experts",
         {{"gate", "softmax"},
          {"renormalize", false},
          {"balancing_bias", false},
          {"aux_loss_coef", 0.01}}}}},
      {"deepseek_sigmoid_bias",
       {{"ffn_experts",
         {{"gate", "sigmoid"},
          {"renormalize", true},
          {"balancing_bias", true},
          {"bias_placement", "scores"},
          {"aux_loss_coef", 0.0},
          {"n_experts", 64},
          {"k", 6},
          {"expert_dim", 128},
          {"n_shared_experts", 2}}}}},
  };
  info.free_hyperparameters = {
      {"d_model", 64, 16384, 64, ""},
      {"n_layers", 1, 256, 1, ""},
      {"n_heads", 1, 256, 1, "divides d_model (or set head_dim)"},
      {"ffn_experts.n_experts", 1, 4096, 1, ""},
      {"ffn_experts.k", 1, 64, 1, "<= ffn_experts.n_experts"},
      {"ffn_experts.expert_dim", 0, 65536, 16, "0 = default width"},
      {"ffn_experts.n_shared_experts", 0, 16, 1, ""},
  };
  info.cost = [](const models::ModelConfig& config, const models::Workload& workload) {
    return moe_transformer_cost(MoETransformerConfig::from_json(config.params, "$"), workload);
  };
  return info;
}

}  // namespace dreamer::baselines
