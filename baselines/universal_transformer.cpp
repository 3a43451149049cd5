#include "baselines/universal_transformer.h"

#include <cmath>

#include "models/blocks/checkpoint.h"
#include "models/cost.h"
#include "models/memory.h"

namespace dreamer::baselines {

const ConfigFields<UniversalTransformerConfig>& UniversalTransformerConfig::fields() {
  static const ConfigFields<UniversalTransformerConfig> kFields = [] {
    using C = UniversalTransformerConfig;
    using A = C::Act;
    ConfigFields<C> f;
    f.embed(&C::backbone, Backbone::fields());
    ConfigFields<C> recurrence;
    recurrence.field("mean", &C::recurrences,
                     "steps every forward runs (fixed, all with gradients)",
                     models::at_least<int64_t>(1));
    f.group("recurrence", recurrence, "the shared block's applications");
    f.group("ffn", models::dense_ffn_fields(&C::ffn_hidden, &C::activation), "the block's MLP");
    ConfigFields<A> act;
    act.field("enabled", &A::enabled, "ACT halting (Graves 2016)");
    act.field("threshold", &A::threshold, "halting threshold, 1 - epsilon",
              models::in_range(0, 1, /*lo_open=*/true));
    act.field("ponder_cost", &A::ponder_cost, "weight of mean(N + R) in aux_loss",
              models::at_least(0.0));
    act.field("halting_bias_init", &A::halting_bias_init, "initial bias of the halting unit");
    f.object("act", &C::act, act, "adaptive computation time");
    f.renamed("recurrences", "recurrence.mean");
    f.renamed("ffn_hidden", "ffn.hidden");
    f.renamed("activation", "ffn.activation");
    return f;
  }();
  return kFields;
}

UniversalTransformerConfig UniversalTransformerConfig::from_json(const nlohmann::json& params,
                                                                 const std::string& path) {
  return models::parse_config<UniversalTransformerConfig>(params, path);
}

nlohmann::json UniversalTransformerConfig::to_json() const {
  return fields().write(*this);
}

void UniversalTransformerConfig::validate(const std::string& p) const {
  fields().check(*this, p);
  backbone.validate_layout(p, true);
}

models::TransformerBlockOptions UniversalTransformerConfig::block() const {
  models::TransformerBlockOptions o;
  o.attention = backbone.attention(true);
  o.norm = backbone.norm;
  o.norm_eps = backbone.norm_eps;
  o.ffn_hidden = ffn_hidden ? ffn_hidden : default_ffn_hidden(backbone.d_model, activation);
  o.activation = activation;
  return o;
}

ParameterCounts UniversalTransformerConfig::parameter_counts() const {
  const int64_t d = backbone.d_model;
  ParameterCounts c;
  c.embedding = backbone.embedding_parameters();
  c.non_embedding = models::transformer_block_parameters(block()) + (act.enabled ? d + 1 : 0) +
                    models::norm_parameters(backbone.norm, d);
  c.total = c.embedding + c.non_embedding;
  return c;
}

UniversalTransformer::UniversalTransformer(const models::ModelConfig& config)
    : LanguageModel(config), cfg_(UniversalTransformerConfig::from_json(config.params, "$")) {
  ends.build(*this, cfg_.backbone, 0);
  layer = register_module("layer", models::TransformerBlock(cfg_.block()));
  if (cfg_.act.enabled) {
    halting = register_module("halting", torch::nn::Linear(cfg_.backbone.d_model, 1));
    declare_roles("halting", *halting, models::ParameterRole::kProjection);
  }
  init_gpt2_style(*this, cfg_.backbone.init_std, 2 * cfg_.recurrences);
  if (halting) {
    torch::NoGradGuard no_grad;
    halting->bias.fill_(cfg_.act.halting_bias_init);
  }
}

ModelOutput UniversalTransformer::forward(const torch::Tensor& tokens, InferenceState* state,
                                          const ForwardOptions& options) {
  // A fixed schedule without truncated backprop: every step carries gradients.
  models::RecurrenceSchedule schedule;
  schedule.mean = schedule.max = cfg_.recurrences;
  const int64_t steps = plan_recurrences(schedule, options, state, is_training()).total();
  const int64_t start = prepare_state(state, steps, steps);
  ModelOutput out;
  out.recurrences = steps;
  auto h = ends.embed(tokens, start, state);
  // One application of the shared block; checkpointed when the workload asks for it.
  const bool checkpointed = models::ActivationCheckpointing::active() && !state;
  auto apply_layer = [&](const torch::Tensor& in, int64_t r) {
    if (!checkpointed) return layer(in, start, cache_at(state, r));
    auto block = layer;
    return models::checkpoint(
        [block](const std::vector<torch::Tensor>& x) mutable {
          return std::vector<torch::Tensor>{block(x[0], 0, nullptr)};
        },
        {in})[0];
  };
  if (!halting) {
    for (int64_t r = 0; r < steps; ++r) {
      h = apply_layer(h, r);
      if (options.record_states) out.states.push_back(h);
    }
    models::finish_output(out, ends.norm_out(h), ends.head(), options);
    finish_state(state, tokens);
    return out;
  }
  // ACT, per position ([B, T] accumulators).
  auto opts = h.options().dtype(torch::kFloat32);
  auto halted_prob = torch::zeros({h.size(0), h.size(1)}, opts);
  auto remainders = torch::zeros_like(halted_prob), n_updates = torch::zeros_like(halted_prob);
  auto mixed = torch::zeros_like(h);
  for (int64_t r = 0; r < steps; ++r) {
    auto p = torch::sigmoid(halting(h).squeeze(-1).to(torch::kFloat32));
    auto running = (halted_prob < 1.0).to(torch::kFloat32);
    auto next = halted_prob + p * running;
    // The last step halts every position still running (its remainder closes the sum).
    auto new_halted =
        r + 1 == steps ? running : (next > cfg_.act.threshold).to(torch::kFloat32) * running;
    running = running - new_halted;
    halted_prob = halted_prob + p * running;
    remainders = remainders + new_halted * (1.0 - halted_prob);
    halted_prob = halted_prob + new_halted * remainders;
    n_updates = n_updates + running + new_halted;
    auto weight = (p * running + new_halted * remainders).unsqueeze(-1).to(h.scalar_type());
    h = apply_layer(h, r);
    mixed = h * weight + mixed * (1.0 - weight);
    if (options.record_states) out.states.push_back(mixed);
  }
  models::finish_output(out, ends.norm_out(mixed), ends.head(), options);
  if (is_training())
    out.aux_loss = out.aux_loss + cfg_.act.ponder_cost * (n_updates + remainders).mean();
  finish_state(state, tokens);
  return out;
}

// Cost model of the Universal Transformer (models/cost.h conventions): one shared block
// applied R times. Every term mirrors a matmul in baselines/universal_transformer.cpp and
// models/blocks/*, so the FLOP counter test can hold it to 1%. With ACT the halting unit
// (Linear d -> 1, 2d FLOPs) runs before every step, and all R steps always run (the
// implementation never exits early), so the executed count at evaluation is the full R.
models::Cost universal_transformer_cost(const UniversalTransformerConfig& c,
                                        const models::Workload& w) {
  const auto& b = c.backbone;
  const double d = b.d_model, V = b.vocab_size, H = b.n_heads, Hkv = b.kv_heads(),
               dh = b.seq_head_dim(), T = w.seq_len;
  const double R = w.recurrences > 0 ? w.recurrences : static_cast<double>(c.recurrences);
  const double ffn_h = c.block().ffn_hidden;
  const bool swiglu = c.activation == models::Activation::kSwiGLU;

  double step = models::sequence_attention_flops(d, H, Hkv, dh, T);
  step += (swiglu ? 6 : 4) * d * ffn_h;  // (gate,) up, down
  if (c.act.enabled) step += 2 * d;      // halting unit
  const double head = 2 * d * V;

  models::Cost cost;
  cost.params = c.parameter_counts();
  cost.active_params = cost.params.total;
  cost.flops_forward_per_token = R * step + head;
  cost.flops_train_per_token = 3 * cost.flops_forward_per_token;  // gradients through all R

  // Memory (models/memory.h): R applications of the block. ACT adds per step the halting
  // unit's input copy (autocast) and sigmoid result, the running mask, the step weight, and
  // the previous mixed state kept by the mixing multiply.
  namespace mem = models::memory;
  mem::BlockShape bs;
  bs.d = d, bs.heads = H, bs.kv_heads = Hkv, bs.head_dim = dh, bs.ffn_hidden = ffn_h;
  bs.activation = c.activation, bs.norm = b.norm;
  const int64_t steps = static_cast<int64_t>(std::ceil(R));
  mem::Ledger saved(w);
  double recompute = 0;
  auto act_step = [&](mem::Ledger& l) {
    if (!c.act.enabled) return;
    mem::linear_inputs(l, d, 1, /*exists=*/true);
    l.tensor(1, 4, 4);        // p, running, new_halted, remainders' factor
    l.tensor(1, l.resid, 2);  // weight, 1 - weight
    l.tensor(d, l.resid);     // the previous mixed state
  };
  if (w.activation_checkpointing) {
    saved.tensor(d, saved.resid, static_cast<double>(steps));
    recompute = mem::block_bytes(w, bs);
    cost.flops_recompute_per_token = R * step - (c.act.enabled ? R * 2 * d : 0);
    cost.flops_train_per_token += cost.flops_recompute_per_token;
    for (int64_t r = 0; r < steps; ++r) act_step(saved);
  } else {
    for (int64_t r = 0; r < steps; ++r) {
      mem::block_attention_half(saved, bs);
      mem::block_mlp_half(saved, bs);
      act_step(saved);
    }
  }
  mem::lm_head_inputs(saved, b.norm, d);
  const double kv = R * 2 * Hkv * dh * T * w.batch;  // one sequence cache per step
  if (steps > 1) saved.backward_buffers = cost.params.non_embedding * saved.resid;
  saved.tied_head = b.tie_embeddings;
  mem::finish(cost, w, saved, d, V, static_cast<double>(cost.params.non_embedding) + V * d, 0, kv,
              recompute);
  return cost;
}

models::FamilyInfo universal_transformer_family() {
  auto info = make_family<UniversalTransformerConfig, UniversalTransformer>(
      "universal_transformer", "one shared pre-norm layer applied R times, optional ACT halting",
      "Dehghani et al. 2019 (Universal Transformers; tensor2tensor act_basic); Graves 2016 (ACT)");
  info.presets = {
      {"fixed", {{"act", {{"enabled", false}}}}},
      {"act", {{"act", {{"enabled", true}}}}},
  };
  info.free_hyperparameters = {
      {"d_model", 64, 16384, 64, ""},
      {"n_heads", 1, 256, 1, "divides d_model (or set head_dim)"},
      {"ffn.hidden", 0, 131072, 64, "0 = default width"},
      {"recurrence.mean", 1, 128, 1, ""},
  };
  info.cost = [](const models::ModelConfig& config, const models::Workload& workload) {
    return universal_transformer_cost(UniversalTransformerConfig::from_json(config.params, "$"),
                                      workload);
  };
  return info;
}

}  // namespace dreamer::baselines
