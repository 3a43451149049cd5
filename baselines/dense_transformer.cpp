#include "baselines/dense_transformer.h"

#include "models/blocks/checkpoint.h"

namespace dreamer::baselines {

namespace {
const std::vector<std::pair<std::string, PositionEncoding>>& position_names() {
  static const std::vector<std::pair<std::string, PositionEncoding>> kNames = {
      {"rope", PositionEncoding::kRope}, {"learned", PositionEncoding::kLearned}};
  return kNames;
}
}  // namespace

DenseTransformerConfig DenseTransformerConfig::from_json(const nlohmann::json& params,
                                                         const std::string& path) {
  DenseTransformerConfig c;
  JsonReader r(params, path);
  c.backbone.read(r);
  r.get("n_layers", c.n_layers);
  r.get("ffn_hidden", c.ffn_hidden);
  r.get_enum("activation", c.activation, models::activation_names());
  r.get("bias", c.bias);
  r.get_enum("position_encoding", c.position_encoding, position_names());
  r.get("max_seq_len", c.max_seq_len);
  r.finish();
  c.validate(path);
  return c;
}

nlohmann::json DenseTransformerConfig::to_json() const {
  nlohmann::json j;
  backbone.write(j);
  j["n_layers"] = n_layers;
  j["ffn_hidden"] = ffn_hidden;
  j["activation"] = enum_name(activation, models::activation_names());
  j["bias"] = bias;
  j["position_encoding"] = enum_name(position_encoding, position_names());
  j["max_seq_len"] = max_seq_len;
  return j;
}

void DenseTransformerConfig::validate(const std::string& p) const {
  backbone.validate(p, position_encoding == PositionEncoding::kRope);
  require(n_layers >= 1, p + ".n_layers", "must be at least 1, got " + std::to_string(n_layers));
  require(ffn_hidden >= 0, p + ".ffn_hidden", "must be positive (or 0 for the default)");
  require(max_seq_len >= 1, p + ".max_seq_len",
          "must be positive, got " + std::to_string(max_seq_len));
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
  auto h = ends.embed(tokens, start);
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
        {"activation", "gelu"},
        {"ffn_hidden", 3072},
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
        {"ffn_hidden", 5632},
        {"activation", "swiglu"}}},
  };
  info.free_hyperparameters = {
      {"d_model", 64, 16384, 64, ""},
      {"n_layers", 1, 256, 1, ""},
      {"n_heads", 1, 256, 1, "divides d_model (or set head_dim)"},
      {"n_kv_heads", 0, 256, 1, "divides n_heads (0 = n_heads)"},
      {"ffn_hidden", 0, 131072, 64, "0 = default width"},
  };
  info.cost = [](const models::ModelConfig& config, const models::Workload& workload) {
    return dense_transformer_cost(DenseTransformerConfig::from_json(config.params, "$"), workload);
  };
  return info;
}

}  // namespace dreamer::baselines
