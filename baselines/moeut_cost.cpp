// Cost model of MoEUT (models/cost.h conventions). Every term mirrors a matmul in
// baselines/moeut.cpp and models/blocks/switch_head.cpp, models/blocks/experts.cpp, so the
// FLOP counter test (tests/matching/cost_model_test.cpp) can hold it to 1%.
#include <algorithm>

#include "baselines/moeut.h"

namespace dreamer::baselines {

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
    f += 2 * 2 * s.d * s.H * s.Ea;           // sel_v, sel_o logits
    f += 2 * s.H * s.ka * s.d * s.dh;        // selected V experts
    f += 2 * s.H * s.ka * s.dh * s.d;        // selected O experts
  } else {
    f += 2 * s.d * s.H * s.dh;               // dense v
    f += 2 * s.d * s.H;                      // sigmoid output gate (sel_o)
    f += 2 * s.H * s.dh * s.d;               // dense o
  }
  f += 2 * s.d * s.Ef;               // σ-MoE router logits (identity query)
  f += s.kf * 4 * s.d * s.de;        // selected ReLU experts: up + down
  return f;
}

// Activation elements kept for backward, per token and layer application (fused attention).
double layer_activations(const MoEUTShapes& s) {
  double a = 2 * s.d + 3 * s.H * s.dh;  // h, ln1(h), q, k, attention output
  if (s.switch_head)
    a += 2 * s.H * s.Ea + s.H * s.ka * (s.d + s.dh) + s.H * s.ka * s.d;  // logits, V rows, O rows
  else
    a += s.H * s.dh + s.H + s.H * s.dh;  // v, gate, gated output
  a += 2 * s.d + s.Ef + s.kf * (s.d + 2 * s.de);  // h, ln2(h), logits, expert rows
  return a;
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

  const double per_token_saved = w.activation_checkpointing ? s.L * s.d + layer_activations(s)
                                                            : s.L * layer_activations(s);
  const double kv = s.L * 2 * s.H * s.dh * T * w.batch;  // a KV cache per layer application
  models::set_memory(cost, w, per_token_saved, kv, static_cast<int64_t>(s.d), static_cast<int64_t>(s.V));
  return cost;
}

}  // namespace dreamer::baselines
