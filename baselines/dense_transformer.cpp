#include "baselines/dense_transformer.h"

#include "models/blocks/checkpoint.h"
#include "models/cost.h"
#include "models/memory.h"

namespace dreamer::baselines {

namespace {
const std::vector<std::pair<std::string, PositionEncoding>>& position_names() {
  static const std::vector<std::pair<std::string, PositionEncoding>> kNames = {
      {"rope", PositionEncoding::kRope}, {"learned", PositionEncoding::kLearned}};
  return kNames;
}
}  // namespace

const ConfigFields<DenseTransformerConfig>& DenseTransformerConfig::fields() {
  static const ConfigFields<DenseTransformerConfig> kFields = [] {
    using C = DenseTransformerConfig;
    ConfigFields<C> f;
    f.embed(&C::backbone, Backbone::fields());
    f.field("n_layers", &C::n_layers, "transformer blocks", models::at_least<int64_t>(1));
    f.group("ffn", models::dense_ffn_fields(&C::ffn_hidden, &C::activation), "the MLP");
    f.field("bias", &C::bias, "biases on every linear layer (GPT-2)");
    f.choice("position_encoding", &C::position_encoding, position_names(),
             "RoPE, or a learned absolute position table");
    f.field("max_seq_len", &C::max_seq_len, "rows of the learned position table",
            models::positive<int64_t>());
    f.renamed("ffn_hidden", "ffn.hidden");
    f.renamed("activation", "ffn.activation");
    return f;
  }();
  return kFields;
}

DenseTransformerConfig DenseTransformerConfig::from_json(const nlohmann::json& params,
                                                         const std::string& path) {
  return models::parse_config<DenseTransformerConfig>(params, path);
}

nlohmann::json DenseTransformerConfig::to_json() const {
  return fields().write(*this);
}

void DenseTransformerConfig::validate(const std::string& p) const {
  fields().check(*this, p);
  backbone.validate_layout(p, position_encoding == PositionEncoding::kRope);
}

models::TransformerBlockOptions DenseTransformerConfig::block() const {
  models::TransformerBlockOptions o;
  o.attention = backbone.attention(position_encoding == PositionEncoding::kRope, bias);
  o.norm = backbone.norm;
  o.norm_eps = backbone.norm_eps;
  o.ffn_hidden = ffn_hidden ? ffn_hidden : default_ffn_hidden(backbone.d_model, activation);
  o.activation = activation;
  o.ffn_bias = bias;
  return o;
}

ParameterCounts DenseTransformerConfig::parameter_counts() const {
  ParameterCounts c;
  c.embedding = backbone.embedding_parameters(positions());
  c.non_embedding = n_layers * models::transformer_block_parameters(block()) +
                    models::norm_parameters(backbone.norm, backbone.d_model);
  c.total = c.embedding + c.non_embedding;
  return c;
}

DenseTransformer::DenseTransformer(const models::ModelConfig& config)
    : LanguageModel(config), cfg_(DenseTransformerConfig::from_json(config.params, "$")) {
  ends.build(*this, cfg_.backbone, cfg_.positions());
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < cfg_.n_layers; ++i) {
    blocks.emplace_back(cfg_.block());
    layers->push_back(blocks.back());
  }
  init_gpt2_style(*this, cfg_.backbone.init_std, 2 * cfg_.n_layers);
}

ModelOutput DenseTransformer::forward(const torch::Tensor& tokens, InferenceState* state,
                                      const ForwardOptions& options) {
  const int64_t start = prepare_state(state, cfg_.n_layers);
  ModelOutput out;
  out.recurrences = 1;
  auto h = ends.embed(tokens, start, state);
  const bool checkpointed = models::ActivationCheckpointing::active() && !state;
  for (size_t i = 0; i < blocks.size(); ++i) {
    if (checkpointed) {
      auto block = blocks[i];
      h = models::checkpoint(
          [block](const std::vector<torch::Tensor>& in) mutable {
            return std::vector<torch::Tensor>{block(in[0], 0, nullptr)};
          },
          {h})[0];
    } else {
      h = blocks[i](h, start, cache_at(state, static_cast<int64_t>(i)));
    }
    if (options.record_states) out.states.push_back(h);
  }
  models::finish_output(out, ends.norm_out(h), ends.head(), options);
  finish_state(state, tokens);
  return out;
}

// Cost model of the dense transformer (models/cost.h conventions). Every term mirrors a matmul
// in baselines/dense_transformer.cpp and models/blocks/*, so the FLOP counter test
// (tests/matching/cost_model_test.cpp) can hold it to 1%. Learned position embeddings are a
// gather (0 FLOPs); biases ride on addmm and add no matmul FLOPs.
models::Cost dense_transformer_cost(const DenseTransformerConfig& c, const models::Workload& w) {
  const auto& b = c.backbone;
  const double d = b.d_model, V = b.vocab_size, H = b.n_heads, Hkv = b.kv_heads(),
               dh = b.seq_head_dim(), L = c.n_layers, T = w.seq_len;
  const double ffn_h = c.block().ffn_hidden;
  const bool swiglu = c.activation == models::Activation::kSwiGLU;

  double layer = models::sequence_attention_flops(d, H, Hkv, dh, T);
  layer += (swiglu ? 6 : 4) * d * ffn_h;  // (gate,) up, down
  const double head = 2 * d * V;

  models::Cost cost;
  cost.params = c.parameter_counts();
  cost.active_params = cost.params.total;
  cost.flops_forward_per_token = L * layer + head;
  cost.flops_train_per_token = 3 * cost.flops_forward_per_token;  // every layer has gradients

  // Memory (models/memory.h): every block keeps its own tensors, or, checkpointed, only its
  // input while one block at a time is rebuilt in backward (one extra forward of the blocks).
  namespace mem = models::memory;
  mem::BlockShape bs;
  bs.d = d, bs.heads = H, bs.kv_heads = Hkv, bs.head_dim = dh, bs.ffn_hidden = ffn_h;
  bs.activation = c.activation, bs.norm = b.norm,
  bs.rope = c.position_encoding == PositionEncoding::kRope;
  mem::Ledger saved(w);
  double recompute = 0;
  if (w.activation_checkpointing) {
    saved.tensor(d, saved.resid, L);
    recompute = mem::block_bytes(w, bs);
    cost.flops_recompute_per_token = L * layer;
    cost.flops_train_per_token += cost.flops_recompute_per_token;
  } else {
    for (int64_t i = 0; i < c.n_layers; ++i) {
      mem::block_attention_half(saved, bs);
      mem::block_mlp_half(saved, bs);
    }
  }
  mem::lm_head_inputs(saved, b.norm, d);
  const double kv = L * 2 * Hkv * dh * T * w.batch;
  saved.tied_head = b.tie_embeddings;
  mem::finish(cost, w, saved, d, V, static_cast<double>(cost.params.non_embedding) + V * d, 0, kv,
              recompute);
  return cost;
}

models::FamilyInfo dense_transformer_family() {
  auto info = make_family<DenseTransformerConfig, DenseTransformer>(
      "dense_transformer",
      "dense decoder-only transformer (Llama/nanochat defaults; GPT-2 via options)",
      "Touvron et al. 2023 (Llama); Radford et al. 2019 (GPT-2); karpathy/nanoGPT model.py, "
      "karpathy/nanochat gpt.py");
  info.presets = {
      {"small", nlohmann::json::object()},  // the defaults: d 256, 4 layers, SwiGLU, RoPE
      {"gpt2_small",
       {{"vocab_size", 50257},
        {"d_model", 768},
        {"n_layers", 12},
        {"n_heads", 12},
        {"ffn", {{"hidden", 3072}, {"activation", "gelu"}}},
        {"tie_embeddings", true},
        {"position_encoding", "learned"},
        {"max_seq_len", 1024},
        {"norm", "layernorm"},
        {"bias", true}}},
      {"tinyllama_1.1b",
       {{"vocab_size", 32000},
        {"d_model", 2048},
        {"n_layers", 22},
        {"n_heads", 32},
        {"n_kv_heads", 4},
        {"ffn", {{"hidden", 5632}, {"activation", "swiglu"}}}}},
  };
  info.free_hyperparameters = {
      {"d_model", 64, 16384, 64, ""},
      {"n_layers", 1, 256, 1, ""},
      {"n_heads", 1, 256, 1, "divides d_model (or set head_dim)"},
      {"n_kv_heads", 0, 256, 1, "divides n_heads (0 = n_heads)"},
      {"ffn.hidden", 0, 131072, 64, "0 = default width"},
  };
  info.cost = [](const models::ModelConfig& config, const models::Workload& workload) {
    return dense_transformer_cost(DenseTransformerConfig::from_json(config.params, "$"), workload);
  };
  return info;
}

}  // namespace dreamer::baselines
