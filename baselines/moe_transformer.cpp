#include "baselines/moe_transformer.h"

#include "models/blocks/checkpoint.h"

namespace dreamer::baselines {

using models::Activation;

MoETransformerConfig MoETransformerConfig::from_json(const nlohmann::json& params,
                                                     const std::string& path) {
  MoETransformerConfig c;
  JsonReader r(params, path);
  c.backbone.read(r);
  r.get("n_layers", c.n_layers);
  JsonReader m = r.child("moe");
  m.get("n_experts", c.moe.n_experts);
  m.get("k", c.moe.k);
  m.get("expert_dim", c.moe.expert_dim);
  m.get_enum("activation", c.moe.activation, models::activation_names());
  m.get_enum("gate", c.moe.gate, models::gate_kind_names());
  m.get("renormalize", c.moe.renormalize);
  m.get("balancing_bias", c.moe.balancing_bias);
  m.get("bias_update_rate", c.moe.bias_update_rate);
  m.get_enum("bias_placement", c.moe.bias_placement, models::bias_placement_names());
  m.get("aux_loss_coef", c.moe.aux_loss_coef);
  m.get("n_shared_experts", c.moe.n_shared_experts);
  m.finish();
  r.finish();
  c.validate(path);
  return c;
}

nlohmann::json MoETransformerConfig::to_json() const {
  nlohmann::json j;
  backbone.write(j);
  j["n_layers"] = n_layers;
  j["moe"] = {{"n_experts", moe.n_experts},
              {"k", moe.k},
              {"expert_dim", moe.expert_dim},
              {"activation", enum_name(moe.activation, models::activation_names())},
              {"gate", enum_name(moe.gate, models::gate_kind_names())},
              {"renormalize", moe.renormalize},
              {"balancing_bias", moe.balancing_bias},
              {"bias_update_rate", moe.bias_update_rate},
              {"bias_placement", enum_name(moe.bias_placement, models::bias_placement_names())},
              {"aux_loss_coef", moe.aux_loss_coef},
              {"n_shared_experts", moe.n_shared_experts}};
  return j;
}

void MoETransformerConfig::validate(const std::string& p) const {
  backbone.validate(p, true);
  require(n_layers >= 1, p + ".n_layers", "must be at least 1, got " + std::to_string(n_layers));
  const std::string m = p + ".moe";
  require(moe.n_experts >= 1, m + ".n_experts",
          "must be positive, got " + std::to_string(moe.n_experts));
  require(moe.k >= 1 && moe.k <= moe.n_experts, m + ".k",
          "must be between 1 and n_experts (" + std::to_string(moe.n_experts) + "), got " +
              std::to_string(moe.k));
  require(moe.expert_dim >= 0, m + ".expert_dim", "must be positive (or 0 for the default)");
  require(moe.bias_update_rate >= 0, m + ".bias_update_rate", "must be >= 0");
  require(moe.aux_loss_coef >= 0, m + ".aux_loss_coef", "must be >= 0");
  require(moe.n_shared_experts >= 0, m + ".n_shared_experts", "must be >= 0");
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

ModelOutput MoETransformer::forward(const torch::Tensor& tokens, InferenceState* state,
                                    const ForwardOptions& options) {
  const int64_t start = prepare_state(state, cfg_.n_layers);
  ModelOutput out;
  out.recurrences = 1;
  auto h = ends.embed(tokens, start);
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

models::FamilyInfo moe_transformer_family() {
  auto info = make_family<MoETransformerConfig, MoETransformer>(
      "moe_transformer", "pre-norm transformer with a token-choice top-k mixture-of-experts MLP",
      "Fedus et al. 2021 (Switch aux loss); Dai et al. 2024 (DeepSeekMoE shared + fine-grained "
      "experts); DeepSeek-V3 / pytorch/torchtitan models/common/moe.py (sigmoid gates, "
      "expert_bias)");
  info.presets = {
      {"switch_softmax_aux",
       {{"moe",
         {{"gate", "softmax"},
          {"renormalize", false},
          {"balancing_bias", false},
          {"aux_loss_coef", 0.01}}}}},
      {"deepseek_sigmoid_bias",
       {{"moe",
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
      {"moe.n_experts", 1, 4096, 1, ""},
      {"moe.k", 1, 64, 1, "<= moe.n_experts"},
      {"moe.expert_dim", 0, 65536, 16, "0 = default width"},
      {"moe.n_shared_experts", 0, 16, 1, ""},
  };
  info.cost = [](const models::ModelConfig& config, const models::Workload& workload) {
    return moe_transformer_cost(MoETransformerConfig::from_json(config.params, "$"), workload);
  };
  return info;
}

}  // namespace dreamer::baselines
