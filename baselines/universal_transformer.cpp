#include "baselines/universal_transformer.h"

#include "models/blocks/checkpoint.h"

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
  auto h = ends.embed(tokens, start);
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
