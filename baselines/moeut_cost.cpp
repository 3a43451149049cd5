// Cost model of MoEUT (models/cost.h conventions). Every term mirrors a matmul in
// baselines/moeut.cpp and models/blocks/switch_head.cpp, models/blocks/experts.cpp, so the
// FLOP counter test (tests/matching/cost_model_test.cpp) can hold it to 1%.
#include <algorithm>

#include "baselines/moeut.h"
#include "models/memory.h"

#include <stdexcept>

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

}  // namespace dreamer::baselines
