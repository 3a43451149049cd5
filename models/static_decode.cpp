#include "models/static_decode.h"

#include <torch/version.h>

#include <stdexcept>

#if defined(DREAMER_WITH_CUDA) && TORCH_VERSION_MAJOR >= 2
#define DREAMER_CUDA_GRAPHS 1
#include <ATen/cuda/CUDAContext.h>
#include <ATen/cuda/CUDAEvent.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#endif

namespace dreamer::models {

bool cuda_graphs_compiled() {
#ifdef DREAMER_CUDA_GRAPHS
  return true;
#else
  return false;
#endif
}

DecodeMode choose_decode_mode(const LanguageModel& model, const torch::Device& device,
                              const ForwardOptions& options, bool graphs) {
  const bool capturable = graphs && cuda_graphs_compiled() && device.is_cuda() &&
                          model.supports_static_decode() && model.decode_step_capturable(device) &&
                          !options.record_trace && !options.record_states;
  return capturable ? DecodeMode::kGraph : DecodeMode::kEager;
}

#ifdef DREAMER_CUDA_GRAPHS
// The captured step: its input and output tensors keep their addresses across replays. Every
// step runs on a side stream (CUDA forbids capturing the legacy default stream), ordered after
// the caller's stream by events both ways.
struct StaticDecoder::Graph {
  at::cuda::CUDAGraph graph;
  c10::cuda::CUDAStream stream = c10::cuda::getStreamFromPool();
  torch::Tensor tokens, logits;
  bool captured = false;
};
#else
struct StaticDecoder::Graph {};
#endif

StaticDecoder::StaticDecoder(LanguageModel& model, InferenceState& state, ForwardOptions options,
                             DecodeMode mode)
    : model_(model), state_(state), options_(options), mode_(mode) {
  if (mode_ == DecodeMode::kEager) return;
  if (!model_.supports_static_decode())
    throw std::invalid_argument("model family " + model_.config().family +
                                " does not support static decoding");
  if (mode_ == DecodeMode::kGraph && !cuda_graphs_compiled())
    throw std::invalid_argument("this build cannot capture CUDA graphs (needs CUDA LibTorch 2.x)");
  state_.enable_static_decoding();
  if (mode_ == DecodeMode::kGraph) graph_ = std::make_unique<Graph>();
}

StaticDecoder::~StaticDecoder() = default;

ModelOutput StaticDecoder::step(const torch::Tensor& tokens) {
  ++steps_;
  if (mode_ != DecodeMode::kGraph) return model_.forward(tokens, &state_, options_);
#ifdef DREAMER_CUDA_GRAPHS
  // Two eager steps on the capture stream first: libraries allocate their per-stream workspaces
  // (cuBLAS, cuDNN) on first use, which must not happen inside the capture.
  constexpr int64_t kWarmupSteps = 2;
  auto& g = *graph_;
  const auto caller = c10::cuda::getCurrentCUDAStream(tokens.device().index());
  at::cuda::CUDAEvent ready;
  ready.record(caller);
  ready.block(g.stream);
  ModelOutput out;
  {
    c10::cuda::CUDAStreamGuard on_side(g.stream);
    if (steps_ <= kWarmupSteps) {
      out = model_.forward(tokens, &state_, options_);
    } else if (!g.captured) {
      g.tokens = tokens.clone();
      g.graph.capture_begin();
      try {
        g.logits = model_.forward(g.tokens, &state_, options_).logits;
      } catch (const std::exception& e) {
        try {
          g.graph.capture_end();  // ends the (invalidated) capture so the stream stays usable
        } catch (...) {
        }
        throw std::runtime_error("capturing the " + model_.config().family +
                                 " decode step as a CUDA graph failed (run with --cuda-graphs "
                                 "off): " +
                                 e.what());
      }
      g.graph.capture_end();
      g.captured = true;
      g.graph.replay();  // the capture ran no kernel: this is the step itself
      out.logits = g.logits;
    } else {
      g.tokens.copy_(tokens);
      g.graph.replay();
      state_.position += tokens.size(1);  // the host half of finish_state, not in the graph
      out.logits = g.logits;
    }
  }
  at::cuda::CUDAEvent done;
  done.record(g.stream);
  done.block(caller);
  out.recurrences = state_.recurrences;
  return out;
#else
  throw std::logic_error("unreachable: kGraph without CUDA graphs");
#endif
}

}  // namespace dreamer::models
