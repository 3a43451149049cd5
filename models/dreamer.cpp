#include "models/dreamer.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "models/blocks/attention_core.h"
#include "models/blocks/checkpoint.h"
#include "models/cost.h"
#include "models/memory.h"
#include "util/errors.h"
#include "util/json_reader.h"

namespace dreamer::models {

namespace {

const std::vector<std::pair<std::string, NormPlacement>>& norm_placement_names() {
  static const std::vector<std::pair<std::string, NormPlacement>> kNames = {
      {"pre", NormPlacement::kPre}, {"peri", NormPlacement::kPeri}};
  return kNames;
}
const std::vector<std::pair<std::string, MixMode>>& mix_mode_names() {
  static const std::vector<std::pair<std::string, MixMode>> kNames = {
      {"parallel", MixMode::kParallel},
      {"separate", MixMode::kSeparate},
      {"joint_sa_da", MixMode::kJointSequenceDepth}};
  return kNames;
}
const std::vector<std::pair<std::string, ParallelExpert>>& parallel_expert_names() {
  static const std::vector<std::pair<std::string, ParallelExpert>> kNames = {
      {"branch", ParallelExpert::kBranch}, {"after", ParallelExpert::kAfter}};
  return kNames;
}
const std::vector<std::pair<std::string, InputInjection>>& input_injection_names() {
  static const std::vector<std::pair<std::string, InputInjection>> kNames = {
      {"none", InputInjection::kNone}, {"add", InputInjection::kAdd}};
  return kNames;
}

}  // namespace

// ---------------------------------------------------------------------------- config

const ConfigFields<DreamerConfig>& DreamerConfig::fields() {
  static const ConfigFields<DreamerConfig> kFields = [] {
    using C = DreamerConfig;
    using F = C::Ffn;
    using D = C::DepthAttn;
    using E = C::ExpertAttn;
    ConfigFields<D> da;
    da.field("enabled", &D::enabled, "depth attention (DA) on");
    da.field("n_heads", &D::n_heads, "DA heads; 0 = n_heads", zero_or_positive<int64_t>());
    da.field("head_dim", &D::head_dim, "DA head width; 0 = the sequence attention's",
             zero_or_positive<int64_t>());
    da.choice("scope", &D::scope, depth_scope_names(), "which earlier depths DA reads");
    da.choice("rope", &D::rope, depth_rope_names(), "rotary encoding of the depth index");
    da.field("include_depth0", &D::include_depth0, "the embedding is a depth key (level 0)");
    da.field("zero_init_output", &D::zero_init_output, "DA's output projection starts at 0");
    ConfigFields<E> ea;
    ea.field("enabled", &E::enabled, "expert attention (EA) on; off = the dense ffn");
    add_pool_keys(ea, &E::n_experts, &E::k, &E::expert_dim, positive<int64_t>());
    ea.choice("activation", &E::activation, activation_names(), "expert activation");
    ea.choice("query", &E::query, router_query_names(), "router query: a projection or x");
    ea.field("router_dim", &E::router_dim, "router query width; 0 = d_model",
             zero_or_positive<int64_t>());
    ea.choice("depth_encoding", &E::depth_encoding, depth_encoding_names(),
              "how the router sees the depth");
    add_router_keys(ea, &E::gate, &E::renormalize, &E::balancing_bias, &E::bias_update_rate,
                    &E::bias_placement);
    ConfigFields<C> f;
    f.embed_base(Backbone::fields());
    f.choice("norm_placement", &C::norm_placement, norm_placement_names(),
             "pre-norm, or peri-norm (values from the raw residual)");
    f.choice("mix_mode", &C::mix_mode, mix_mode_names(), "how SA, DA and EA combine");
    f.choice("parallel_expert", &C::parallel_expert, parallel_expert_names(),
             "parallel mode: EA as a branch or after the branches")
        .written_only_if([](const C& c) { return c.mix_mode == MixMode::kParallel; });
    f.choice("input_injection", &C::input_injection, input_injection_names(),
             "the embedding is added to every depth's input");
    f.object("ffn", &C::ffn, dense_ffn_fields(&F::hidden, &F::activation),
             "the dense FFN (ffn_experts off)");
    f.object("depth_attention", &C::depth_attention, da, "depth attention (DA)");
    f.object("ffn_experts", &C::expert_attention, ea, "expert attention (EA): routed FFN experts");
    f.object("recurrence", &C::recurrence, recurrence_fields(), "recurrences of the layer");
    f.renamed("expert_attention", "ffn_experts");
    return f;
  }();
  return kFields;
}

DreamerConfig DreamerConfig::from_json(const nlohmann::json& params, const std::string& path) {
  DreamerConfig c;
  fields().read(params, path, c);
  // Written by to_json only in parallel mode, so a value given for another mode was set by
  // hand and cannot be honoured.
  require(!params.contains("parallel_expert") || c.mix_mode == MixMode::kParallel,
          path + ".parallel_expert",
          "only applies to mix_mode = parallel (the other modes place EA after the attention)");
  c.validate(path);
  return c;
}

void DreamerConfig::validate(const std::string& p) const {
  auto at = [&](const std::string& field) { return p + "." + field; };
  fields().check(*this, p);
  validate_layout(p, /*rope=*/true);

  const auto& da = depth_attention;
  if (da.enabled) {
    const int64_t rope_multiple = da.rope == DepthRope::kForwardReverse ? 4 : 2;
    if (da.rope != DepthRope::kNone)
      require(da_head_dim() % rope_multiple == 0, at("depth_attention.head_dim"),
              "depth RoPE (" + enum_name(da.rope, depth_rope_names()) +
                  ") needs a head dim that is a multiple of " + std::to_string(rope_multiple) +
                  ", got " + std::to_string(da_head_dim()));
  }
  if (mix_mode == MixMode::kJointSequenceDepth) {
    require(da.enabled, at("mix_mode"), "joint_sa_da needs depth_attention.enabled = true");
    require(da.scope == DepthScope::kSameToken, at("depth_attention.scope"),
            "joint_sa_da mixes the same token's earlier depths only: scope must be same_token");
  }

  const auto& ea = expert_attention;
  if (ea.enabled) {
    validate_top_k(at("ffn_experts"), ea.n_experts, ea.k);
    require(ea.query == RouterQuery::kLinear || ea.router_dim == 0 || ea.router_dim == d_model,
            at("ffn_experts.router_dim"), "an identity query has router_dim = d_model");
    if (ea.depth_encoding == DepthEncoding::kRope) {
      const int64_t dk = ea.router_dim ? ea.router_dim : d_model;
      require(dk % 4 == 0, at("ffn_experts.router_dim"),
              "depth RoPE routing needs a router dim that is a multiple of 4, got " +
                  std::to_string(dk));
    }
  }

  validate_schedule(recurrence, at("recurrence"));
  // With truncated backprop the first steps run without gradients; the embedding must reach
  // a gradient step through something other than depth 1's input.
  const bool depth0_key = builds_depth_attention() && da.include_depth0;
  require(recurrence.backprop_depth == 0 || input_injection != InputInjection::kNone || depth0_key,
          at("recurrence.backprop_depth"),
          "truncated backprop would leave the embedding untrained: its only path to the loss is "
          "depth 1, which runs without gradients when more than backprop_depth steps run; set "
          "input_injection to \"add\" (or use depth attention with include_depth0 in separate or "
          "parallel mix_mode)");
}

int64_t DreamerConfig::ffn_hidden() const {
  return ffn.hidden ? ffn.hidden : default_ffn_hidden(d_model, ffn.activation);
}

nlohmann::json DreamerConfig::to_json() const {
  return fields().write(*this);
}

ParameterCounts DreamerConfig::parameter_counts() const {
  const int64_t d = d_model, norm = norm_parameters(this->norm, d);
  ParameterCounts c;
  c.embedding = vocab_size * d * (tie_embeddings ? 1 : 2);
  // norm_sa, or norm_mix shared by the parallel branches
  int64_t layer = norm + d * n_heads * seq_head_dim() + 2 * d * kv_heads() * seq_head_dim() +
                  n_heads * seq_head_dim() * d;
  if (builds_depth_attention()) {
    layer += 4 * d * da_heads() * da_head_dim();
    if (mix_mode != MixMode::kParallel) layer += norm;  // norm_da
  }
  if (!expert_is_branch()) layer += norm;  // norm_ffn (the router's norm when EA is on)
  const auto& ea = expert_attention;
  if (ea.enabled) {
    const int64_t dk = ea.query == RouterQuery::kIdentity || ea.router_dim == 0 ? d : ea.router_dim;
    layer += (ea.query == RouterQuery::kLinear ? d * dk : 0) + ea.n_experts * dk;
    if (ea.depth_encoding == DepthEncoding::kLearnedOffset) layer += (recurrence.max + 1) * dk;
    layer += ea.n_experts * d * ea.expert_dim * (ea.activation == Activation::kSwiGLU ? 3 : 2);
  } else {
    layer += d * ffn_hidden() * (ffn.activation == Activation::kSwiGLU ? 3 : 2);
  }
  c.non_embedding = layer + norm;  // + norm_out
  c.total = c.embedding + c.non_embedding;
  return c;
}

// ---------------------------------------------------------------------------- layer

DreamerLayerImpl::DreamerLayerImpl(const DreamerConfig& c) : config(c) {
  const int64_t d = c.d_model;
  if (c.mix_mode == MixMode::kParallel)
    norm_mix = register_module("norm_mix", Norm(d, c.norm, c.norm_eps));
  else
    norm_sa = register_module("norm_sa", Norm(d, c.norm, c.norm_eps));
  attention = register_module(
      "attention", SequenceAttention(SequenceAttentionOptions{
                       d, c.n_heads, c.kv_heads(), c.seq_head_dim(), true, c.rope_base}));
  if (c.builds_depth_attention()) {
    if (c.mix_mode != MixMode::kParallel)
      norm_da = register_module("norm_da", Norm(d, c.norm, c.norm_eps));
    DepthAttentionOptions o;
    o.d_model = d;
    o.n_heads = c.da_heads();
    o.head_dim = c.da_head_dim();
    o.scope = c.depth_attention.scope;
    o.rope = c.depth_attention.rope;
    o.rope_base = c.rope_base;
    o.zero_init_output = c.depth_attention.zero_init_output;
    depth_attention = register_module("depth_attention", DepthAttention(o));
  }
  if (!c.expert_is_branch()) norm_ffn = register_module("norm_ffn", Norm(d, c.norm, c.norm_eps));
  const auto& ea = c.expert_attention;
  if (ea.enabled) {
    RouterOptions o;
    o.d_model = d;
    o.n_experts = ea.n_experts;
    o.k = ea.k;
    o.gate = ea.gate;
    o.renormalize = ea.renormalize;
    o.balancing_bias = ea.balancing_bias;
    o.bias_update_rate = ea.bias_update_rate;
    o.bias_placement = ea.bias_placement;
    o.query = ea.query;
    o.router_dim = ea.router_dim;
    o.depth_encoding = ea.depth_encoding;
    o.max_depth = c.recurrence.max;
    o.rope_base = c.rope_base;
    router = register_module("router", Router(o));
    experts = register_module("experts", ExpertFFN(ea.n_experts, d, ea.expert_dim, ea.activation));
  } else {
    ffn = register_module("ffn", FeedForward(d, c.ffn_hidden(), c.ffn.activation));
  }
}

torch::Tensor DreamerLayerImpl::forward(torch::Tensor h, Context& ctx) {
  if (config.mix_mode == MixMode::kParallel) return parallel_step(h, ctx);
  const bool peri = config.norm_placement == NormPlacement::kPeri;
  if (config.mix_mode == MixMode::kJointSequenceDepth) {
    h = h + joint_attention(h, ctx);
  } else {
    auto x = norm_sa(h);
    h = h + attention(x, peri ? h : x, ctx.start, ctx.sequence_cache);
    if (depth_attention) {
      auto xd = norm_da(h);
      depth_attention->write(*ctx.memory, xd, peri ? h : xd, ctx.depth, ctx.total, ctx.depth_cache);
      h = h + depth_attention->read(*ctx.memory, xd, ctx.depth, ctx.total);
    }
  }
  return h + channel_mix(h, norm_ffn(h), ctx);
}

// h + SA(x) + DA(x) [+ EA(x)] with x = norm_mix(h): every branch reads the same normalised
// state, their outputs are summed into the residual (PaLM / GPT-J parallel block). Depth
// level r is x itself, so DA's query and the key it writes at this depth are the same state.
torch::Tensor DreamerLayerImpl::parallel_step(const torch::Tensor& h, Context& ctx) {
  const bool peri = config.norm_placement == NormPlacement::kPeri;
  auto x = norm_mix(h);
  const auto& xv = peri ? h : x;
  auto branches = attention(x, xv, ctx.start, ctx.sequence_cache);
  if (depth_attention) {
    depth_attention->write(*ctx.memory, x, xv, ctx.depth, ctx.total, ctx.depth_cache);
    branches = branches + depth_attention->read(*ctx.memory, x, ctx.depth, ctx.total);
  }
  if (config.expert_is_branch()) return h + branches + channel_mix(h, x, ctx);
  auto mixed = h + branches;
  return mixed + channel_mix(mixed, norm_ffn(mixed), ctx);
}

torch::Tensor DreamerLayerImpl::channel_mix(const torch::Tensor& h, const torch::Tensor& x,
                                            Context& ctx) {
  if (router) return expert_attention(h, x, ctx);
  return ffn(config.norm_placement == NormPlacement::kPeri ? h : x);
}

torch::Tensor DreamerLayerImpl::expert_attention(const torch::Tensor& h, const torch::Tensor& x,
                                                 Context& ctx) {
  const int64_t d = h.size(-1);
  auto xf = x.reshape({-1, d});
  RouterOutput routed = router(xf, ctx.depth, ctx.total);
  auto in = config.norm_placement == NormPlacement::kPeri ? h.reshape({-1, d}) : xf;
  auto y = experts(in, routed.ids, routed.gates);
  if (ctx.trace)  // one layer's experts at every depth: one pool
    ctx.trace->records.push_back({"ea", ctx.depth, config.expert_attention.n_experts, routed.ids,
                                  routed.gates.detach(), "shared"});
  return y.view_as(h);
}

// One softmax over this depth's keys of positions <= t and the same token's keys at the
// earlier depths (which are exactly the sequence-attention keys stored at those depths).
torch::Tensor DreamerLayerImpl::joint_attention(const torch::Tensor& h, Context& ctx) {
  const bool peri = config.norm_placement == NormPlacement::kPeri;
  auto x = norm_sa(h);
  QKV p = attention->project(x, peri ? h : x, ctx.start);
  torch::Tensor k_all = p.k, v_all = p.v;
  if (ctx.sequence_cache) std::tie(k_all, v_all) = ctx.sequence_cache->append(p.k, p.v);
  const int64_t n_heads = config.n_heads, tq = p.q.size(2), tk = k_all.size(2);
  const double scale = 1.0 / std::sqrt(static_cast<double>(config.seq_head_dim()));

  auto scores = torch::matmul(p.q, repeat_kv(k_all, n_heads).transpose(-2, -1)) * scale;
  scores = scores.masked_fill(causal_mask(tq, tk, h.device()).logical_not(),
                              -std::numeric_limits<float>::infinity());
  auto& earlier = *ctx.joint_depth_kv;
  torch::Tensor depth_values;
  if (!earlier.empty()) {
    std::vector<torch::Tensor> ks, vs;
    for (const auto& [k, v] : earlier) {
      ks.push_back(repeat_kv(k, n_heads));
      vs.push_back(repeat_kv(v, n_heads));
    }
    auto kd = torch::stack(ks, 3);  // [B, H, T, L, Dh]
    depth_values = torch::stack(vs, 3);
    auto depth_scores = torch::matmul(kd, p.q.unsqueeze(-1)).squeeze(-1) * scale;  // [B,H,T,L]
    scores = torch::cat({scores, depth_scores}, -1);
  }
  auto weights = torch::softmax(at_least_float32(scores), -1).to(h.scalar_type());
  auto out = torch::matmul(weights.narrow(-1, 0, tk), repeat_kv(v_all, n_heads));
  if (depth_values.defined())
    out = out +
          torch::matmul(weights.narrow(-1, tk, weights.size(-1) - tk).unsqueeze(-2), depth_values)
              .squeeze(-2);
  earlier.emplace_back(p.k, p.v);
  return attention->output(out);
}

// ---------------------------------------------------------------------------- model

DreamerModel::DreamerModel(const ModelConfig& config)
    : LanguageModel(config), cfg_(DreamerConfig::from_json(config.params, "$")) {
  ends.build_embedding(*this, cfg_);
  layer = register_module("layer", DreamerLayer(cfg_));
  ends.build_head(*this, cfg_);
  // GPT-2-style init; residual outputs scaled by the number of residual writes (two a depth).
  init_gpt2_style(*this, cfg_.init_std, 2 * cfg_.recurrence.mean);
  if (layer->depth_attention && cfg_.depth_attention.zero_init_output) {
    torch::NoGradGuard no_grad;
    layer->depth_attention->o->weight.zero_();
  }
}

bool DreamerModel::supports_static_decode() const {
  return cfg_.mix_mode != MixMode::kJointSequenceDepth &&
         !(cfg_.depth_attention.enabled &&
           cfg_.depth_attention.scope == DepthScope::kAllTokensCausal);
}

bool DreamerModel::decode_step_capturable(const torch::Device& device) const {
  if (!supports_static_decode()) return false;
  return !layer->experts || layer->experts->grouped_on(device);
}

ModelOutput DreamerModel::forward(const torch::Tensor& tokens, InferenceState* state,
                                  const ForwardOptions& options) {
  const RecurrencePlan plan = plan_recurrences(cfg_.recurrence, options, state, is_training());
  const int64_t depth_count = plan.total();
  // One sequence cache a depth; depth caches for levels 0..R.
  const int64_t start = prepare_state(state, depth_count, depth_count, depth_count + 1);
  const bool peri = cfg_.norm_placement == NormPlacement::kPeri;

  if (cfg_.depth_attention.enabled)
    ActivationCheckpointing::refuse(
        "dreamer with depth attention",
        "a depth step reads and writes the depth memory (not implemented); turn it off or use "
        "the DR / DR+EA presets");
  ModelOutput out;
  out.recurrences = depth_count;
  auto x = ends.embed(tokens, start, state);  // [B, T, d]
  torch::Tensor h = x;
  DepthMemory memory;
  std::vector<std::pair<torch::Tensor, torch::Tensor>> joint_kv;
  if (layer->depth_attention && cfg_.depth_attention.include_depth0) {
    auto x0 = layer->depth_norm()(x);
    layer->depth_attention->write(memory, x0, peri ? x : x0, 0, depth_count,
                                  state ? &state->depth[0] : nullptr);
  }
  for (int64_t r = 1; r <= depth_count; ++r) {
    DreamerLayerImpl::Context ctx;
    ctx.depth = r;
    ctx.total = depth_count;
    ctx.start = start;
    ctx.sequence_cache = cache_at(state, r - 1);
    ctx.memory = &memory;
    ctx.depth_cache = state ? &state->depth[r] : nullptr;
    ctx.joint_depth_kv = &joint_kv;
    ctx.trace = options.record_trace ? &out.trace : nullptr;
    auto step = [&] {
      // The state entering depth r >= 2 is h_{r-1} + x (depth 1 already starts from x).
      if (r > 1 && cfg_.input_injection == InputInjection::kAdd) h = h + x;
      if (!ActivationCheckpointing::active() || state || options.record_trace) {
        h = layer(h, ctx);
        return;
      }
      // Checkpointed depth step (no depth memory: refused above).
      auto shared = layer;
      const int64_t total = depth_count;
      h = checkpoint(
          [shared, r, total](const std::vector<torch::Tensor>& in) mutable {
            DreamerLayerImpl::Context c;
            c.depth = r;
            c.total = total;
            return std::vector<torch::Tensor>{shared->forward(in[0], c)};
          },
          {h})[0];
    };
    if (r <= plan.no_grad_steps) {
      torch::NoGradGuard no_grad;  // truncated backprop: early steps carry no gradient
      step();
    } else {
      step();
    }
    if (options.record_states) out.states.push_back(h);
  }
  finish_output(out, ends.norm_out(h), ends.head(), options);
  finish_state(state, tokens);
  return out;
}

HeadWeights DreamerModel::head() const {
  return ends.head();
}

void DreamerModel::after_optimizer_step() {
  if (layer->router) layer->router->update_bias();
}

// ---------------------------------------------------------------------------- cost

// Cost model of the Dreamer family (models/cost.h conventions). Every term mirrors a matmul
// in models/dreamer.cpp and models/blocks/*, so the FLOP counter test can hold it to 1%.
namespace {

struct DreamerShapes {
  double d, V, H, Hkv, dh, Hd, I /* DA heads x head dim */, dk, E, k, de, ffn_h;
  bool da, joint, parallel, expert_branch, all_tokens, depth0, ea, swiglu_experts, swiglu_ffn,
      linear_query;
};

DreamerShapes shapes_of(const DreamerConfig& c) {
  DreamerShapes s{};
  s.d = c.d_model;
  s.V = c.vocab_size;
  s.H = c.n_heads;
  s.Hkv = c.kv_heads();
  s.dh = c.seq_head_dim();
  s.da = c.depth_attention.enabled;
  s.joint = c.mix_mode == MixMode::kJointSequenceDepth;
  s.parallel = c.mix_mode == MixMode::kParallel;
  s.expert_branch = c.expert_is_branch();
  s.all_tokens = c.depth_attention.scope == DepthScope::kAllTokensCausal;
  s.depth0 = c.depth_attention.include_depth0;
  s.Hd = static_cast<double>(c.da_heads());
  s.I = static_cast<double>(c.da_heads() * c.da_head_dim());
  const auto& ea = c.expert_attention;
  s.ea = ea.enabled;
  s.linear_query = ea.query == RouterQuery::kLinear;
  s.dk = !s.linear_query || ea.router_dim == 0 ? c.d_model : ea.router_dim;
  s.E = ea.n_experts;
  s.k = ea.k;
  s.de = ea.expert_dim;
  s.swiglu_experts = ea.activation == Activation::kSwiGLU;
  s.ffn_h = c.ffn_hidden();
  s.swiglu_ffn = c.ffn.activation == Activation::kSwiGLU;
  return s;
}

// Forward matmul FLOPs per token of depth r (1-based) in a sequence of T tokens.
double depth_flops(const DreamerShapes& s, double r, double T) {
  double f = sequence_attention_flops(s.d, s.H, s.Hkv, s.dh, T);
  if (s.da && s.joint) {
    f += 4 * (r - 1) * s.H * s.dh;  // the same token's earlier depths in the joint softmax
  } else if (s.da) {
    const double levels = r + (s.depth0 ? 1 : 0);
    f += 8 * s.d * s.I;                                // q, k, v, o
    f += 4 * levels * s.I * (s.all_tokens ? T : 1.0);  // scores + mix over depth levels
  }
  if (s.ea) {
    f += (s.linear_query ? 2 * s.d * s.dk : 0) + 2 * s.dk * s.E;  // router query and logits
    f += s.k * (s.swiglu_experts ? 6 : 4) * s.d * s.de;           // the selected experts
  } else {
    f += (s.swiglu_ffn ? 6 : 4) * s.d * s.ffn_h;
  }
  return f;
}

// Memory of depth r with gradients (models/memory.h conventions); R = depths of this call.
// Parallel mode: the depth input h (norm_mix's), its internals, its output read by SA's q, k,
// v, DA's k, v (write) and q (read), the router's query or the FFN; separate mode adds each
// sub-layer's own norm input and internals. DA write keeps nothing (the level buffers hold
// k and v); DA read keeps the (rotated) query, the float32 probabilities over
// the readable levels and the output reshaped for o (the level buffers hold k and v: added
// once per call by the caller). Joint mode: SA's tensors with the T x T (+ depth) float32
// probabilities and the stacked earlier keys and values. All-tokens scope: the concatenated
// keys and values of every level and the [T, L*T] probabilities and mask.
double depth_memory(const DreamerConfig& c, const DreamerShapes& s, models::memory::Ledger& l,
                    double r) {
  namespace mem = models::memory;
  const double d = s.d, T = static_cast<double>(l.w.seq_len);
  const bool peri = c.norm_placement == NormPlacement::kPeri;
  const bool rope_da = c.depth_attention.rope != DepthRope::kNone;
  const auto norm = c.norm;
  const double levels = r + (s.depth0 ? 1 : 0);
  const double ffn_reads = s.swiglu_ffn ? 2 : 1;
  const double channel_reads = s.ea ? 1 : ffn_reads;  // the router's query or logits matmul
  auto da_read_write = [&] {
    // The write keeps nothing: k and v live on in the level buffers (RoPE keeps cos/sin).
    l.tensor(s.I, l.lp);  // the (rotated) query
    if (s.all_tokens) {
      l.tensor(s.I * levels, l.lp, 2);  // concatenated keys, values
      l.tensor(s.Hd * levels * T, 4);   // probabilities
      if (l.lp < 4) l.tensor(s.Hd * levels * T, l.lp);
      l.fixed(T * T * levels);  // mask
    } else {
      l.tensor(s.Hd * levels, 4);  // probabilities
    }
    l.tensor(s.I, l.lp);  // output reshaped for o
  };
  auto channel = [&] {
    if (s.ea) {
      mem::RouterShape rs;
      rs.d = d, rs.dk = s.dk, rs.experts = s.E, rs.k = s.k, rs.linear_query = s.linear_query;
      rs.depth_offset = c.expert_attention.depth_encoding == DepthEncoding::kLearnedOffset;
      rs.depth_rope = c.expert_attention.depth_encoding == DepthEncoding::kRope;
      rs.renormalize = c.expert_attention.renormalize;
      mem::router(l, rs);
      return mem::experts(l, d, s.de, s.E, s.k, c.expert_attention.activation, s.swiglu_experts);
    }
    mem::ffn_hidden(l, c.ffn.activation, s.ffn_h);
    return 0.0;
  };
  double per_call = 0;
  l.tensor(d, l.resid);  // the depth input
  mem::norm_internals(l, norm, d);
  if (s.parallel) {
    const double v_reads = peri ? (s.da ? 2 : 1) : 0;  // SA's and DA's v read h under peri
    double reads = 3 + (s.da ? 3 : 0) + (s.expert_branch ? channel_reads : 0) - v_reads;
    mem::linear_inputs(l, d, reads);
    mem::linear_inputs(l, d, v_reads, /*exists=*/true);
    mem::sequence_attention(l, s.H, s.Hkv, s.dh, true);
    if (s.da) da_read_write();
    if (!s.expert_branch) {
      l.tensor(d, l.resid);  // h + branches, norm_ffn's input
      mem::norm_internals(l, norm, d);
      mem::linear_inputs(l, d, channel_reads);
    }
    per_call += channel();
  } else {
    mem::linear_inputs(l, d, peri ? 2 : 3);
    if (peri) mem::linear_inputs(l, d, 1, true);
    if (s.joint) {
      const double earlier = r - 1;
      l.tensor(s.H * s.dh, l.lp);        // q (rotated)
      l.tensor(s.Hkv * s.dh, l.lp, 2);   // k (rotated), v
      l.tensor(s.H * (T + earlier), 4);  // probabilities over sequence and depth keys
      if (l.lp < 4) l.tensor(s.H * (T + earlier), l.lp);
      l.fixed(T * T);
      l.tensor(s.H * s.dh * earlier, l.lp, 2);  // stacked earlier keys, values
      l.tensor(s.H * s.dh, l.lp);               // output reshaped for o
    } else {
      mem::sequence_attention(l, s.H, s.Hkv, s.dh, true);
    }
    if (s.da && !s.joint) {
      l.tensor(d, l.resid);  // h + SA, norm_da's input
      mem::norm_internals(l, norm, d);
      mem::linear_inputs(l, d, peri ? 2 : 3);
      if (peri) mem::linear_inputs(l, d, 1, true);
      da_read_write();
    }
    l.tensor(d, l.resid);  // norm_ffn's input
    mem::norm_internals(l, norm, d);
    mem::linear_inputs(l, d, channel_reads);
    per_call += channel();
  }
  return per_call;
}

}  // namespace

Cost dreamer_cost(const DreamerConfig& c, const Workload& w) {
  const DreamerShapes s = shapes_of(c);
  const double T = static_cast<double>(w.seq_len);
  const bool sampled = c.recurrence.sampling == RecurrenceSampling::kPoissonLognormal;
  // Huginn's sampler has expectation mean + 1 (docs/DESIGN.md).
  const double R = w.recurrences > 0 ? w.recurrences : c.recurrence.mean + (sampled ? 1 : 0);
  const double grad_steps =
      c.recurrence.backprop_depth > 0 ? std::min<double>(c.recurrence.backprop_depth, R) : R;
  Cost cost;
  cost.params = c.parameter_counts();
  const double expert_params = s.ea ? s.E * s.d * s.de * (s.swiglu_experts ? 3 : 2) : 0;
  cost.active_params =
      cost.params.total - static_cast<int64_t>(expert_params * (1.0 - s.k / std::max(1.0, s.E)));

  // Whole depths plus the fractional last one when R is a mean.
  auto sum_depths = [&](double from, double to, auto per_depth) {
    double total = 0;
    for (double r = from; r <= to + 1e-9; r += 1) total += per_depth(r);
    const double frac = to - std::floor(to + 1e-9);
    if (frac > 1e-9) total += frac * per_depth(std::floor(to) + 1);
    return total;
  };
  const double head = 2 * s.d * s.V;
  const double depth0 = s.da && !s.joint && s.depth0 ? 4 * s.d * s.I : 0;  // level-0 k, v
  const double all_depths = sum_depths(1, R, [&](double r) { return depth_flops(s, r, T); });
  const double grad_depths =
      sum_depths(R - grad_steps + 1, R, [&](double r) { return depth_flops(s, r, T); });
  cost.flops_forward_per_token = depth0 + all_depths + head;
  // Level 0 is written outside the no-grad steps, so its k, v always get a backward pass.
  cost.flops_train_per_token = cost.flops_forward_per_token + 2 * (grad_depths + head + depth0);

  namespace mem = models::memory;
  mem::Ledger saved(w);
  const int64_t depths = static_cast<int64_t>(std::ceil(R - 1e-9));
  const int64_t first_grad = depths - static_cast<int64_t>(std::ceil(grad_steps - 1e-9)) + 1;
  double per_call = 0, recompute = 0;
  if (w.activation_checkpointing) {
    if (s.da)
      throw std::invalid_argument(
          "workload.activation_checkpointing is not supported by dreamer with depth attention: "
          "a depth step reads and writes the depth memory (not implemented)");
    saved.tensor(s.d, saved.resid, depths - first_grad + 1);
    mem::Ledger one(w);
    per_call += (depths - first_grad + 1) * depth_memory(c, s, one, R);
    recompute = one.bytes();
    cost.flops_recompute_per_token = grad_depths;
    cost.flops_train_per_token += grad_depths;
  } else {
    for (int64_t r = first_grad; r <= depths; ++r) per_call += depth_memory(c, s, saved, r);
  }
  if (s.da && !s.joint && s.depth0) {  // level 0 (outside the no-grad steps)
    // x0 = norm(embedding); the embedding is depth 1's input unless depth 1 runs without
    // gradients.
    if (first_grad > 1) saved.tensor(s.d, saved.resid);
    mem::norm_internals(saved, c.norm, s.d);
    mem::linear_inputs(saved, s.d, 2);
  }
  if (s.da && !s.joint && !s.all_tokens) saved.fixed(saved.tokens * (R + 1) * s.I * saved.lp, 2);
  mem::lm_head_inputs(saved, c.norm, s.d);

  const double kv = R * 2 * s.Hkv * s.dh * T * w.batch;  // sequence KV cache of every depth
  double depth_cache = 0;
  if (s.da && !s.joint)
    depth_cache =
        (R + 1) * 2 * s.I * w.batch * (s.all_tokens ? T : 1.0);  // same_token: in flight only
  saved.backward_buffers =
      ((depths - first_grad + 1) > 1 ? cost.params.non_embedding : 0) * saved.resid +
      expert_params * saved.resid;
  saved.tied_head = c.tie_embeddings;
  mem::finish(cost, w, saved, s.d, s.V, static_cast<double>(cost.params.non_embedding) + s.V * s.d,
              per_call, kv + depth_cache, recompute);
  return cost;
}

// ---------------------------------------------------------------------------- registry

FamilyInfo dreamer_family() {
  FamilyInfo info;
  info.name = "dreamer";
  info.description = "one depth-recurrent layer mixing sequence, depth and sparse expert attention";
  info.source = "Knupp et al. 2026, arXiv 2601.21582 (no public code; options in docs/DESIGN.md)";
  info.presets = {
      {"DR", {{"depth_attention", {{"enabled", false}}}, {"ffn_experts", {{"enabled", false}}}}},
      {"DR+DA", {{"ffn_experts", {{"enabled", false}}}}},
      {"DR+EA", {{"depth_attention", {{"enabled", false}}}}},
      {"DR+DA+EA", nlohmann::json::object()},
  };
  info.free_hyperparameters = {
      {"d_model", 64, 8192, 64, ""},
      {"n_heads", 1, 128, 1, "divides d_model"},
      {"ffn.hidden", 64, 65536, 64, "dense FFN only (ffn_experts off)"},
      {"ffn_experts.n_experts", 1, 4096, 1, ""},
      {"ffn_experts.k", 1, 64, 1, "<= ffn_experts.n_experts"},
      {"ffn_experts.expert_dim", 16, 4096, 16, ""},
      {"recurrence.mean", 1, 128, 1, "<= recurrence.max"},
  };
  info.resolve = [](const nlohmann::json& params, const std::string& path) {
    return DreamerConfig::from_json(params, path).to_json();
  };
  info.build = [](const ModelConfig& config) -> LanguageModelPtr {
    return std::make_shared<DreamerModel>(config);
  };
  info.cost = [](const ModelConfig& config, const Workload& workload) {
    return dreamer_cost(DreamerConfig::from_json(config.params, "$"), workload);
  };
  info.count = [](const ModelConfig& config) {
    return DreamerConfig::from_json(config.params, "$").parameter_counts();
  };
  return info;
}

}  // namespace dreamer::models
