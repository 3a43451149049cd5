#include "train/memory_ops.h"

#include <ATen/Context.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <functional>
#include <iomanip>
#include <sstream>

#include "models/blocks/attention_core.h"
#include "models/blocks/experts.h"
#include "models/blocks/ffn.h"
#include "models/blocks/norm.h"
#include "models/blocks/rope.h"
#include "models/blocks/transformer_block.h"
#include "models/memory.h"
#include "train/loss.h"
#include "train/memory_step.h"
#include "util/device.h"
#include "util/memory_probe.h"

#define DREAMER_SDP_FLAGS (TORCH_VERSION_MAJOR >= 2)
#define DREAMER_SDP_CUDNN_FLAG \
  (TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4))

namespace dreamer::train {

namespace {

namespace mem = models::memory;

// Enables only one SDPA backend while alive ("" leaves the flags as they are).
class SdpBackend {
 public:
  explicit SdpBackend(const std::string& only) : active_(!only.empty()) {
#if DREAMER_SDP_FLAGS
    auto& c = at::globalContext();
    flash_ = c.userEnabledFlashSDP();
    efficient_ = c.userEnabledMemEfficientSDP();
    math_ = c.userEnabledMathSDP();
#if DREAMER_SDP_CUDNN_FLAG
    cudnn_ = c.userEnabledCuDNNSDP();
#endif
    if (!active_) return;
    c.setSDPUseFlash(only == "flash");
    c.setSDPUseMemEfficient(only == "efficient");
    c.setSDPUseMath(only == "math");
#if DREAMER_SDP_CUDNN_FLAG
    c.setSDPUseCuDNN(only == "cudnn");
#endif
#endif
  }
  ~SdpBackend() {
#if DREAMER_SDP_FLAGS
    if (!active_) return;
    auto& c = at::globalContext();
    c.setSDPUseFlash(flash_);
    c.setSDPUseMemEfficient(efficient_);
    c.setSDPUseMath(math_);
#if DREAMER_SDP_CUDNN_FLAG
    c.setSDPUseCuDNN(cudnn_);
#endif
#endif
  }
  SdpBackend(const SdpBackend&) = delete;
  SdpBackend& operator=(const SdpBackend&) = delete;

 private:
  bool active_;
  bool flash_ = true, efficient_ = true, math_ = true, cudnn_ = true;
};

double storage_bytes(const torch::Tensor& t) {
  return t.defined() ? static_cast<double>(t.numel() * t.element_size()) : 0.0;
}

struct Probe {
  c10::Device device;
  bool bf16;
  double granularity;
  std::vector<OpMemory> results;

  double live() const {
    synchronize_device(device);
    return device_memory(device).allocated;
  }
  double peak() const {
    synchronize_device(device);
    return device_memory(device).peak;
  }
  double rounded(double b) const { return std::ceil(b / granularity) * granularity; }

  // `forward` returns the tensors to hold (the first one is backpropagated with ones, the
  // others held only); `leaves` get their gradients cleared before each run.
  void run(const std::string& op, double predicted,
           const std::function<std::vector<torch::Tensor>()>& forward,
           const std::vector<torch::Tensor>& leaves, double predicted_peak = 0) {
    OpMemory m;
    m.op = op;
    m.predicted = predicted;
    m.predicted_peak = predicted_peak;
    auto clear = [&] {
      for (auto t : leaves)
        if (t.grad().defined()) t.mutable_grad() = torch::Tensor();
    };
    auto backward = [&](std::vector<torch::Tensor>& out) {
      if (out.empty() || !out[0].requires_grad()) return;
      auto g = torch::ones_like(out[0]);
      const double before = live();
      reset_device_peak(device);
      torch::autograd::backward({out[0]}, {g});
      m.backward_peak = peak() - before;
    };
    try {
      {  // warm-up: process-wide caches (RoPE tables, cuBLAS handles and workspaces)
        std::vector<torch::Tensor> out;
        {
          CudaAutocast autocast(bf16);
          out = forward();
        }
        backward(out);
      }
      clear();
      std::vector<torch::Tensor> out;
      const double before = live();
      reset_device_peak(device);
      {
        CudaAutocast autocast(bf16);
        out = forward();
      }
      m.measured = live() - before;
      m.forward_peak = peak() - before;
      for (const auto& t : out) m.output += rounded(storage_bytes(t));
      backward(out);
      out.clear();
      clear();
    } catch (const std::exception& e) {
      std::string what = e.what();
      m.note = "failed: " + what.substr(0, std::min<size_t>(what.find('\n'), 160));
      m.measured = m.forward_peak = m.backward_peak = 0;
    }
    results.push_back(m);
  }
};

}  // namespace

std::vector<OpMemory> measure_op_memory(const c10::Device& device, const OpProbeOptions& o) {
  if (!device.is_cuda()) install_cpu_memory_probe();
  MemoryStepOptions step;
  step.batch = o.batch;
  step.seq = o.seq;
  step.bf16 = o.bf16;
  const models::Workload w = workload_on(device, step);
  Probe p{device, o.bf16, static_cast<double>(std::max<int64_t>(1, w.allocation_granularity)), {}};
  torch::manual_seed(0);
  const int64_t B = o.batch, T = o.seq, N = B * T, d = o.d_model, H = o.heads, dh = d / H;
  const int64_t hidden = o.ffn_hidden, E = o.experts, k = o.k, de = o.expert_dim, V = o.vocab;
  const auto f32 = torch::TensorOptions().dtype(torch::kFloat32).device(device);
  const auto lp_dtype = o.bf16 ? torch::kBFloat16 : torch::kFloat32;
  const auto lpo = f32.dtype(lp_dtype);
  auto leaf = [](torch::Tensor t) {
    t.requires_grad_(true);
    return t;
  };
  // The inputs and a module's parameters: their gradients are cleared before each run.
  auto with_params = [](const torch::nn::Module& m, std::vector<torch::Tensor> inputs) {
    for (const auto& t : m.parameters()) inputs.push_back(t);
    return inputs;
  };
  // The ledger's charge for tensors of `per_token` elements (and fixed bytes).
  auto ledger = [&] { return mem::Ledger(w); };
  const double lp = static_cast<double>(w.activation_bytes);
  const bool autocast = o.bf16;
  auto weight_copies = [&](double elements) { return autocast ? p.rounded(elements * lp) : 0.0; };

  // A float32 residual-stream input [N, d] (a norm's output or the residual itself).
  auto x = leaf(torch::randn({N, d}, f32));

  {  // linear d -> d on a float32 input that exists: saves it (or autocast's cast copy)
    torch::nn::Linear lin(torch::nn::LinearOptions(d, d).bias(false));
    lin->to(device);
    auto l = ledger();
    mem::linear_inputs(l, d, 1, /*exists=*/true);
    l.tensor(d, lp);  // the output
    p.run(
        "linear", l.bytes() + weight_copies(d * d), [&] { return std::vector{lin(x)}; },
        with_params(*lin, {x}));
  }
  for (auto kind : {models::NormKind::kRMSNorm, models::NormKind::kLayerNorm}) {
    models::Norm norm(d, kind);
    norm->to(device);
    auto l = ledger();
    mem::norm_internals(l, kind, d);
    l.tensor(d, 4);  // the output (float32)
    p.run(
        kind == models::NormKind::kRMSNorm ? "rmsnorm" : "layernorm", l.bytes(),
        [&] { return std::vector{norm(x)}; }, with_params(*norm, {x}));
  }
  {  // the composite RMSNorm LibTorch 1.13 runs (what at::rms_norm replaces from 2.4)
    auto weight = leaf(torch::ones({d}, f32));
    auto l = ledger();
    mem::norm_internals(l, models::NormKind::kRMSNorm, d);
    l.tensor(d, 4);
    p.run("rmsnorm_composite", l.bytes(),
          [&] { return std::vector{x * torch::rsqrt(x.pow(2).mean(-1, true) + 1e-5) * weight}; },
          {x, weight});
  }
  {  // RoPE on a projection [B, H, T, Dh] in the activation dtype: keeps the rotated output
    auto q = leaf(torch::randn({B, H, T, dh}, lpo));
    auto l = ledger();
    l.tensor(H * dh, lp);
    p.run("rope", l.bytes(),
          [&] {
            auto [c, s] = models::shared_rope_rows(dh, 10000.0, 0, T, q.device(), q.scalar_type());
            return std::vector{models::apply_rope_cos_sin(q, c, s)};
          },
          {q});
  }
  {  // attention core: q, k, v exist (rotated); SDPA (or the reference) and the reshape for o
    auto q = leaf(torch::randn({B, H, T, dh}, lpo)), kk = leaf(torch::randn({B, H, T, dh}, lpo)),
         v = leaf(torch::randn({B, H, T, dh}, lpo));
    auto predicted = [&](bool fused) {
      models::Workload wf = w;
      wf.fused_attention = fused;
      mem::Ledger full(wf), inputs(wf);
      mem::sequence_attention(full, H, H, dh, true);
      inputs.tensor(H * dh, lp, 3);
      return full.bytes() - inputs.bytes();
    };
    auto attend = [&](bool reference) {
      return [&, reference] {
        auto y = reference ? models::causal_attention_reference(q, kk, v)
                           : models::causal_attention(q, kk, v);
        return std::vector{y.transpose(1, 2).reshape({B, T, H * dh})};
      };
    };
    std::vector<std::string> backends = {""};
#if DREAMER_SDP_FLAGS
    backends.insert(backends.end(), {"flash", "efficient", "math"});
#if DREAMER_SDP_CUDNN_FLAG
    if (device.is_cuda()) backends.push_back("cudnn");
#endif
#endif
    for (const auto& b : backends) {
      SdpBackend only(b);
      p.run(std::string("sdpa:") + (b.empty() ? "default" : b),
            predicted(w.fused_attention && b != "math"), attend(false), {q, kk, v});
    }
    p.run("attention_reference", predicted(false), attend(true), {q, kk, v});
  }
  for (auto act : {models::Activation::kSwiGLU, models::Activation::kGELU}) {
    models::FeedForward ffn(d, hidden, act);
    ffn->to(device);
    const bool gated = act == models::Activation::kSwiGLU;
    auto l = ledger();
    mem::linear_inputs(l, d, gated ? 2 : 1, /*exists=*/true);
    mem::ffn_hidden(l, act, hidden);
    l.tensor(d, lp);  // the output
    p.run(
        gated ? "ffn_swiglu" : "ffn_gelu", l.bytes() + weight_copies(d * hidden * (gated ? 3 : 2)),
        [&] { return std::vector{ffn(x)}; }, with_params(*ffn, {x}));
  }
  for (auto gate : {models::GateKind::kSoftmax, models::GateKind::kSigmoid}) {
    models::RouterOptions ro;
    ro.d_model = d;
    ro.n_experts = E;
    ro.k = k;
    ro.gate = gate;
    models::Router router(ro);
    router->to(device);
    mem::RouterShape s;
    s.d = d;
    s.dk = d;
    s.experts = E;
    s.k = k;
    s.linear_query = true;
    s.input_exists = true;
    auto l = ledger();
    mem::linear_inputs(l, d, 1, /*exists=*/true);  // the query projection's input
    mem::router(l, s);
    p.run(
        gate == models::GateKind::kSoftmax ? "router_softmax_topk" : "router_sigmoid_topk",
        l.bytes() + weight_copies(d * d + E * d),
        [&] {
          auto r = router(x);
          return std::vector{r.gates, r.ids};
        },
        with_params(*router, {x}));
  }
  {  // expert FFN (SwiGLU) on a float32 input that exists, with k distinct experts per token
    auto ids = std::get<1>(torch::rand({N, E}, f32).topk(k, -1));
    auto gates = leaf(torch::rand({N, k}, f32));
    for (bool grouped : {true, false}) {
      models::ExpertFFN experts(E, d, de, models::Activation::kSwiGLU);
      experts->to(device);
      experts->use_grouped = grouped;
      if (grouped && !experts->grouped_available(o.bf16 ? x.to(torch::kBFloat16) : x)) continue;
      models::Workload wg = w;
      wg.grouped_experts = grouped;
      mem::Ledger l(wg);
      const double loop_copies = mem::experts(l, d, de, E, k, models::Activation::kSwiGLU, true);
      if (autocast) l.tensor(k, lp);  // the gates' cast copy (the router's term)
      l.tensor(d, lp);                // the output
      const double copies = grouped ? weight_copies(E * d * de * 3) : loop_copies;
      p.run(
          grouped ? "experts_grouped" : "experts_loop", l.bytes() + copies,
          [&] { return std::vector{experts(x, ids, gates)}; }, with_params(*experts, {x, gates}));
    }
  }
  {  // the trainer's chunked head + cross-entropy on the final norm's float32 output
    auto head = leaf(torch::randn({V, d}, f32) * 0.02);
    auto targets = torch::randint(0, V, {N}, f32.dtype(torch::kLong));
    models::Cost cost;
    mem::Ledger blocks(w);
    mem::finish(cost, w, blocks, d, V, 0, 0, 0);
    p.run(
        "chunked_loss", cost.memory.logits_loss_saved,
        [&] {
          return std::vector{
              chunked_linear_cross_entropy(x, head, {}, targets, cross_entropy_chunk_rows(V))};
        },
        {x, head}, cost.memory.logits_loss);
  }
  {  // embedding lookup: keeps the token ids (which exist); backward writes a dense table
    torch::nn::Embedding emb(V, d);
    emb->to(device);
    auto tokens = torch::randint(0, V, {B, T}, f32.dtype(torch::kLong));
    auto l = ledger();
    l.tensor(d, 4);
    p.run(
        "embedding", l.bytes(), [&] { return std::vector{emb(tokens)}; }, with_params(*emb, {}));
  }
  {  // one pre-norm TransformerBlock (RMSNorm, RoPE, SwiGLU) on a float32 input that exists
    models::TransformerBlockOptions bo;
    bo.attention.d_model = d;
    bo.attention.n_heads = H;
    bo.attention.n_kv_heads = H;
    bo.attention.head_dim = dh;
    bo.ffn_hidden = hidden;
    models::TransformerBlock block(bo);
    block->to(device);
    auto h = leaf(torch::randn({B, T, d}, f32));
    mem::BlockShape s;
    s.d = d;
    s.heads = H;
    s.kv_heads = H;
    s.head_dim = dh;
    s.ffn_hidden = hidden;
    auto input = ledger();
    input.tensor(d, 4);
    auto out = ledger();
    out.tensor(d, 4);
    p.run(
        "transformer_block",
        mem::block_bytes(w, s) - input.bytes() + out.bytes() +
            weight_copies(4.0 * d * d + 3.0 * d * hidden),
        [&] { return std::vector{block(h, 0, nullptr)}; }, with_params(*block, {h}));
  }
  return p.results;
}

nlohmann::json op_memory_json(const OpMemory& m) {
  nlohmann::json j = {
      {"op", m.op},         {"measured", m.measured},         {"predicted", m.predicted},
      {"output", m.output}, {"forward_peak", m.forward_peak}, {"backward_peak", m.backward_peak}};
  if (m.predicted_peak > 0) j["predicted_peak"] = m.predicted_peak;
  if (!m.note.empty()) j["note"] = m.note;
  return j;
}

std::string op_memory_line(const OpMemory& m) {
  std::ostringstream s;
  s << "MEMOP " << m.op << " measured " << static_cast<int64_t>(m.measured) << " predicted "
    << static_cast<int64_t>(m.predicted) << " ratio " << std::fixed << std::setprecision(3)
    << (m.predicted > 0 ? m.measured / m.predicted : 0.0) << " out "
    << static_cast<int64_t>(m.output) << " fwd_peak " << static_cast<int64_t>(m.forward_peak)
    << " bwd_peak " << static_cast<int64_t>(m.backward_peak);
  if (m.predicted_peak > 0) s << " pred_peak " << static_cast<int64_t>(m.predicted_peak);
  if (!m.note.empty()) s << " note " << m.note;
  return s.str();
}

}  // namespace dreamer::train
