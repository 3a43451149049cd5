#include "baselines/huginn.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "models/blocks/checkpoint.h"
#include "models/memory.h"

namespace dreamer::baselines {

namespace {

const std::vector<std::pair<std::string, Injection>>& injection_names() {
  static const std::vector<std::pair<std::string, Injection>> kNames = {
      {"linear", Injection::kLinear}, {"add", Injection::kAdd}, {"none", Injection::kNone}};
  return kNames;
}
const std::vector<std::pair<std::string, StateInit>>& state_init_names() {
  static const std::vector<std::pair<std::string, StateInit>> kNames = {
      {"random", StateInit::kRandom}, {"zero", StateInit::kZero}};
  return kNames;
}
const std::vector<std::pair<std::string, HuginnInit>>& init_names() {
  static const std::vector<std::pair<std::string, HuginnInit>> kNames = {
      {"takase", HuginnInit::kTakase}, {"gpt2", HuginnInit::kGpt2}};
  return kNames;
}

// Uniform u in [0, 1) -> N(0, std) truncated to ±3 std, by the inverse CDF (exact).
torch::Tensor truncated_normal(const torch::Tensor& u, double std) {
  const double lo = 0.5 * std::erfc(3.0 / std::sqrt(2.0));  // Phi(-3)
  auto p = lo + u * (1.0 - 2.0 * lo);
  return torch::erfinv(2.0 * p - 1.0) * (std::sqrt(2.0) * std);
}

}  // namespace

Backbone HuginnConfig::reference_backbone() {
  Backbone b;
  b.tie_embeddings = true;
  b.norm_eps = 1e-6;
  b.rope_base = 50000.0;
  b.init_std = 0;
  return b;
}

const ConfigFields<HuginnConfig>& HuginnConfig::fields() {
  static const ConfigFields<HuginnConfig> kFields = [] {
    using C = HuginnConfig;
    ConfigFields<C> f;
    f.embed(&C::backbone, Backbone::fields(/*init_std_zero_is_scheme=*/true));
    f.field("n_prelude", &C::n_prelude, "blocks before the recurrence",
            models::at_least<int64_t>(0));
    f.field("n_core", &C::n_core, "blocks of the recurrent core", models::at_least<int64_t>(1));
    f.field("n_coda", &C::n_coda, "blocks after the recurrence", models::at_least<int64_t>(0));
    f.group("ffn", models::dense_ffn_fields(&C::ffn_hidden, &C::activation), "every block's MLP");
    f.field("sandwich", &C::sandwich, "sandwich norm around attention and MLP");
    f.field("qk_bias", &C::qk_bias, "biases on the query and key projections");
    f.choice("injection", &C::injection, injection_names(), "how the embedding enters the state");
    f.choice("state_init", &C::state_init, state_init_names(), "initial recurrent state");
    f.field("state_init_std", &C::state_init_std, "random state std; 0 = sqrt(2 / (5 d))",
            models::at_least(0.0));
    f.choice("init", &C::init, init_names(), "weight init scheme");
    f.object("recurrence", &C::recurrence, recurrence_fields(), "recurrences of the core");
    f.renamed("ffn_hidden", "ffn.hidden");
    f.renamed("activation", "ffn.activation");
    return f;
  }();
  return kFields;
}

HuginnConfig HuginnConfig::from_json(const nlohmann::json& params, const std::string& path) {
  return models::parse_config<HuginnConfig>(params, path);
}

nlohmann::json HuginnConfig::to_json() const {
  return fields().write(*this);
}

void HuginnConfig::validate(const std::string& p) const {
  fields().check(*this, p);
  backbone.validate_layout(p, true);
  validate_schedule(recurrence, p + ".recurrence");
  // Without injection the prelude's output reaches the loss only through the first recurrence,
  // which truncated backprop runs without gradients: embedding and prelude would never train.
  require(injection != Injection::kNone || recurrence.backprop_depth == 0,
          p + ".recurrence.backprop_depth",
          "truncated backprop with injection \"none\" leaves the embedding and the prelude "
          "untrained (set injection to \"add\" or \"linear\", or backprop_depth to 0)");
}

models::TransformerBlockOptions HuginnConfig::block() const {
  models::TransformerBlockOptions o;
  o.attention = backbone.attention(true, false, qk_bias);
  o.norm = backbone.norm;
  o.norm_eps = backbone.norm_eps;
  o.sandwich = sandwich;
  o.ffn_hidden = ffn_hidden ? ffn_hidden : default_ffn_hidden(backbone.d_model, activation);
  o.activation = activation;
  return o;
}

double HuginnConfig::state_std() const {
  return state_init_std > 0 ? state_init_std
                            : std::sqrt(2.0 / (5.0 * static_cast<double>(backbone.d_model)));
}

double HuginnConfig::init_std() const {
  if (backbone.init_std > 0) return backbone.init_std;
  if (init == HuginnInit::kGpt2) return 0.02;
  return std::sqrt(2.0 / (5.0 * static_cast<double>(backbone.d_model)));
}

double HuginnConfig::embedding_scale() const {
  return init == HuginnInit::kTakase ? std::sqrt(static_cast<double>(backbone.d_model)) : 1.0;
}

double HuginnConfig::effective_depth() const {
  return static_cast<double>(n_prelude + n_core * recurrence.mean + n_coda);
}

ParameterCounts HuginnConfig::parameter_counts() const {
  const int64_t d = backbone.d_model;
  ParameterCounts c;
  c.embedding = backbone.embedding_parameters();
  c.non_embedding = (n_prelude + n_core + n_coda) * models::transformer_block_parameters(block()) +
                    (injection == Injection::kLinear ? 2 * d * d : 0) +
                    models::norm_parameters(backbone.norm, d);
  c.total = c.embedding + c.non_embedding;
  return c;
}

Huginn::Huginn(const models::ModelConfig& config)
    : LanguageModel(config), cfg_(HuginnConfig::from_json(config.params, "$")) {
  ends.build(*this, cfg_.backbone, 0);
  auto stack = [&](const char* name, int64_t n, std::vector<models::TransformerBlock>& blocks) {
    auto list = register_module(name, torch::nn::ModuleList());
    for (int64_t i = 0; i < n; ++i) {
      blocks.emplace_back(cfg_.block());
      list->push_back(blocks.back());
    }
    return list;
  };
  prelude = stack("prelude", cfg_.n_prelude, prelude_blocks);
  core = stack("core", cfg_.n_core, core_blocks);
  coda = stack("coda", cfg_.n_coda, coda_blocks);
  const int64_t d = cfg_.backbone.d_model;
  if (cfg_.injection == Injection::kLinear) {
    adapter = register_module("adapter",
                              torch::nn::Linear(torch::nn::LinearOptions(2 * d, d).bias(false)));
    declare_roles("adapter", *adapter, models::ParameterRole::kProjection);
  }
  if (cfg_.init == HuginnInit::kTakase) {
    init_takase();
  } else {
    init_gpt2_style(*this, cfg_.init_std(), static_cast<int64_t>(2 * cfg_.effective_depth()));
  }
}

void Huginn::init_takase() {
  // The reference's _init_weights: RMSNorm gains 1, qk_bias 0 (as constructed here), every
  // matrix truncated normal; output projections (attn.proj, mlp.proj) and the second half of
  // the fused GLU input (init_glu's w2, our ffn.up) at the out_proj σ.
  using models::ParameterRole;
  torch::NoGradGuard no_grad;
  const double std = cfg_.init_std();
  const double out_std = std / std::sqrt(2.0 * cfg_.effective_depth());
  // The GLU's up projections (the second half of the reference's fused fc).
  std::set<const c10::TensorImpl*> glu_up;
  if (cfg_.activation == models::Activation::kSwiGLU)
    for (const auto* blocks : {&prelude_blocks, &core_blocks, &coda_blocks})
      for (const auto& block : *blocks)
        if (block->ffn) glu_up.insert(block->ffn->up->weight.unsafeGetTensorImpl());
  const models::ParameterRoles roles = models::collect_parameter_roles(*this);
  for (auto& item : named_parameters()) {
    auto& p = item.value();
    const ParameterRole role = models::role_of(roles, item.key());
    if (role == ParameterRole::kNorm) continue;
    if (p.dim() < 2) {
      p.zero_();
      continue;
    }
    const bool is_output =
        role == ParameterRole::kResidualOutput || glu_up.count(p.unsafeGetTensorImpl()) > 0;
    p.copy_(truncated_normal(torch::rand_like(p), is_output ? out_std : std));
  }
}

torch::Tensor Huginn::initial_state(const torch::Tensor& e, int64_t start) {
  if (cfg_.state_init == StateInit::kZero) return torch::zeros_like(e);
  // like-init: σ = sqrt(2 / (5 d)) noise, then the embedding scale (initialize_state).
  const double std = cfg_.state_std(), scale = cfg_.embedding_scale();
  if (is_training()) return truncated_normal(torch::rand(e.sizes(), e.options()), std) * scale;
  // Evaluation: one fixed draw per absolute position, shared by the batch rows.
  const int64_t t = e.size(1), d = e.size(2);
  std::vector<torch::Tensor> rows;
  for (int64_t p = start; p < start + t; ++p) {
    auto gen = at::detail::createCPUGenerator(0x4875676e696eULL + static_cast<uint64_t>(p));
    rows.push_back(torch::rand({d}, gen, torch::kFloat32));
  }
  auto s0 = truncated_normal(torch::stack(rows), std) * scale;
  return s0.to(e.options()).unsqueeze(0).expand_as(e).contiguous();
}

ModelOutput Huginn::forward(const torch::Tensor& tokens, InferenceState* state,
                            const ForwardOptions& options) {
  return run(tokens, torch::Tensor(), state, options);
}

ModelOutput Huginn::forward_from_state(const torch::Tensor& tokens, const torch::Tensor& s0,
                                       InferenceState* state, const ForwardOptions& options) {
  TORCH_CHECK(s0.defined() && s0.dim() == 3 && s0.size(0) == tokens.size(0) &&
                  s0.size(1) == tokens.size(1) && s0.size(2) == cfg_.backbone.d_model,
              "initial state must be [B, T, d_model] for tokens ", tokens.sizes());
  return run(tokens, s0, state, options);
}

ModelOutput Huginn::run(const torch::Tensor& tokens, const torch::Tensor& s0, InferenceState* state,
                        const ForwardOptions& options) {
  const auto plan = plan_recurrences(cfg_.recurrence, options, state, is_training());
  const int64_t steps = plan.total();
  const int64_t p_n = cfg_.n_prelude, c_n = cfg_.n_core;
  const int64_t start = prepare_state(state, p_n + c_n * steps + cfg_.n_coda, steps);
  ModelOutput out;
  out.recurrences = steps;

  auto e = ends.embed(tokens, start, state);
  // A block application, checkpointed when the workload asks for it (and gradients flow).
  auto apply = [&](models::TransformerBlock& block, const torch::Tensor& in, int64_t cache) {
    if (!models::ActivationCheckpointing::active() || state)
      return block(in, start, cache_at(state, cache));
    auto b = block;
    return models::checkpoint(
        [b](const std::vector<torch::Tensor>& x) mutable {
          return std::vector<torch::Tensor>{b(x[0], 0, nullptr)};
        },
        {in})[0];
  };
  const double scale = cfg_.embedding_scale();
  if (scale != 1.0) e = e * scale;
  for (int64_t i = 0; i < p_n; ++i) e = apply(prelude_blocks[i], e, i);
  torch::Tensor s;
  if (cfg_.injection == Injection::kNone)
    s = e;
  else
    s = s0.defined() ? s0.to(e.options()) : initial_state(e, start);
  for (int64_t r = 0; r < steps; ++r) {
    auto step = [&] {
      if (cfg_.injection == Injection::kLinear)
        s = adapter(torch::cat({s, e}, -1));
      else if (cfg_.injection == Injection::kAdd)
        s = s + e;
      for (int64_t i = 0; i < c_n; ++i) s = apply(core_blocks[i], s, p_n + r * c_n + i);
    };
    if (r < plan.no_grad_steps) {
      torch::NoGradGuard no_grad;  // truncated backprop: only the last steps carry gradients
      step();
    } else {
      step();
    }
    if (options.record_states) out.states.push_back(s);
  }
  // ln_f closes the recurrence (iterate_forward returns ln_f(x)) and again after the coda.
  s = ends.norm_out(s);
  for (int64_t i = 0; i < cfg_.n_coda; ++i) s = apply(coda_blocks[i], s, p_n + steps * c_n + i);
  models::finish_output(out, ends.norm_out(s), ends.head(), options);
  finish_state(state, tokens);
  return out;
}

// Cost model of the Huginn family (models/cost.h conventions). Every term mirrors a matmul in
// baselines/huginn.cpp and models/blocks/transformer_block.cpp (sequence attention, FFN), so
// the FLOP counter test (tests/matching/cost_model_test.cpp) can hold it to 1%.
namespace {

struct HuginnShapes {
  double d, V, H, Hkv, dh, ffn_h;
  bool swiglu;
};

// Forward matmul FLOPs per token of one block application in a sequence of T tokens.
double block_flops(const HuginnShapes& s, double T) {
  double f = models::sequence_attention_flops(s.d, s.H, s.Hkv, s.dh, T);
  f += (s.swiglu ? 6 : 4) * s.d * s.ffn_h;  // MLP
  return f;
}

}  // namespace

models::Cost huginn_cost(const HuginnConfig& c, const models::Workload& w) {
  const auto block = c.block();
  HuginnShapes s{};
  s.d = static_cast<double>(c.backbone.d_model);
  s.V = static_cast<double>(c.backbone.vocab_size);
  s.H = static_cast<double>(c.backbone.n_heads);
  s.Hkv = static_cast<double>(c.backbone.kv_heads());
  s.dh = static_cast<double>(c.backbone.seq_head_dim());
  s.ffn_h = static_cast<double>(block.ffn_hidden);
  s.swiglu = block.activation == models::Activation::kSwiGLU;
  const double T = static_cast<double>(w.seq_len);
  const bool sampled = c.recurrence.sampling == models::RecurrenceSampling::kPoissonLognormal;
  // Huginn's sampler has expectation mean + 1 (docs/DESIGN.md).
  const double R = w.recurrences > 0 ? w.recurrences
                                     : static_cast<double>(c.recurrence.mean) + (sampled ? 1 : 0);
  const double grad_steps =
      c.recurrence.backprop_depth > 0
          ? std::min<double>(static_cast<double>(c.recurrence.backprop_depth), R)
          : R;
  const double ends_blocks = static_cast<double>(c.n_prelude + c.n_coda);
  const double core = static_cast<double>(c.n_core);

  models::Cost cost;
  cost.params = c.parameter_counts();
  cost.active_params = cost.params.total;  // dense

  const double blk = block_flops(s, T);
  const double adapter = c.injection == Injection::kLinear ? 2 * (2 * s.d) * s.d : 0;
  const double step = core * blk + adapter;  // one recurrence: injection + the core blocks
  const double head = 2 * s.d * s.V;         // LM head (tied or not)
  cost.flops_forward_per_token = ends_blocks * blk + R * step + head;
  // Truncated backprop: prelude, coda and head always train; only the last steps of the core.
  cost.flops_train_per_token =
      cost.flops_forward_per_token + 2 * (ends_blocks * blk + grad_steps * step + head);

  // Memory (models/memory.h): every block application with gradients (prelude, the last
  // grad_steps core steps, coda) keeps its tensors, or, checkpointed, its input; the linear
  // injection keeps cat[s, e]; ln_f keeps its input where the recurrence meets the coda.
  namespace mem = models::memory;
  mem::BlockShape bs;
  bs.d = s.d, bs.heads = s.H, bs.kv_heads = s.Hkv, bs.head_dim = s.dh, bs.ffn_hidden = s.ffn_h;
  bs.activation = block.activation, bs.norm = c.backbone.norm, bs.sandwich = c.sandwich;
  const double grad_blocks = ends_blocks + std::ceil(grad_steps) * core;
  mem::Ledger saved(w);
  double recompute = 0;
  if (w.activation_checkpointing) {
    saved.tensor(s.d, saved.resid, grad_blocks);
    recompute = mem::block_bytes(w, bs);
    cost.flops_recompute_per_token = ends_blocks * blk + grad_steps * core * blk;
    cost.flops_train_per_token += cost.flops_recompute_per_token;
  } else {
    for (int64_t i = 0; i < static_cast<int64_t>(grad_blocks); ++i) {
      mem::block_attention_half(saved, bs);
      mem::block_mlp_half(saved, bs);
    }
  }
  if (c.injection == Injection::kLinear) {
    mem::Ledger cat(w);
    cat.tensor(2 * s.d, cat.autocast ? cat.lp : cat.resid);
    saved.fixed(cat.bytes(), std::ceil(grad_steps));
  }
  saved.tensor(s.d, saved.resid);  // ln_f's input
  mem::norm_internals(saved, c.backbone.norm, s.d);
  mem::lm_head_inputs(saved, c.backbone.norm, s.d);
  // A KV cache per block application: prelude, every core step, coda.
  const double kv = (ends_blocks + R * core) * 2 * s.Hkv * s.dh * T * w.batch;
  if (grad_steps > 1)
    saved.backward_buffers = core * models::transformer_block_parameters(block) * saved.resid;
  saved.tied_head = c.backbone.tie_embeddings;
  mem::finish(cost, w, saved, s.d, s.V, static_cast<double>(cost.params.non_embedding) + s.V * s.d,
              0, kv, recompute);
  return cost;
}

models::FamilyInfo huginn_family() {
  auto info = make_family<HuginnConfig, Huginn>(
      "huginn", "recurrent depth: prelude, iterated core with input injection, coda",
      "Geiping et al. 2025, arXiv 2502.05171; seal-rg/recurrent-pretraining "
      "recpre/raven_modeling_minimal.py, recpre/model_registry.py");
  info.presets = {
      {"small", nlohmann::json::object()},  // the defaults: d 256, 1/2/1 blocks, mean 4
      // magpie-150m's shape (its blocks are post-norm and its init recpre's "scaled"; ours stay
      // sandwich-normed with the Takase init).
      {"magpie_150m_like",
       {{"vocab_size", 65536},
        {"d_model", 1024},
        {"n_heads", 32},
        {"ffn", {{"hidden", 3520}}},
        {"n_prelude", 1},
        {"n_core", 4},
        {"n_coda", 1},
        {"injection", "add"},
        {"qk_bias", false},
        {"tie_embeddings", true},
        {"recurrence", {{"mean", 20}, {"backprop_depth", 4}, {"max", 128}}}}},
      // Huginn-0125 (recpre/raven_config_minimal.json).
      {"huginn_0125",
       {{"vocab_size", 65536},
        {"d_model", 5280},
        {"n_heads", 55},
        {"ffn", {{"hidden", 17920}}},
        {"n_prelude", 2},
        {"n_core", 4},
        {"n_coda", 2},
        {"injection", "linear"},
        {"qk_bias", true},
        {"tie_embeddings", true},
        {"recurrence", {{"mean", 32}, {"backprop_depth", 8}, {"max", 256}}}}},
  };
  info.cost = [](const models::ModelConfig& config, const models::Workload& workload) {
    return huginn_cost(HuginnConfig::from_json(config.params, "$"), workload);
  };
  info.free_hyperparameters = {
      {"d_model", 64, 16384, 64, ""},
      {"n_heads", 1, 256, 1, "divides d_model (or set head_dim)"},
      {"n_core", 1, 64, 1, ""},
      {"ffn.hidden", 0, 131072, 64, "0 = default width"},
      {"recurrence.mean", 1, 128, 1, "<= recurrence.max"},
  };
  return info;
}

}  // namespace dreamer::baselines
