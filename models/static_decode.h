#pragma once
// One-token decoding steps whose position lives on the device, so that one step can be captured
// as a CUDA graph and replayed for every later token. Why: eager decoding is bound by the host,
// not the GPU. At batch 1 the dense 374M model launches about 1,065 kernels per token, 2.85 ms
// of GPU time, against 16.5 ms of wall time (docs/PERF.md, 2026-12-03). A replayed graph
// launches them all in one call.
//
// The state must be switched to static decoding after the prefill
// (InferenceState::enable_static_decoding). Each cache then writes at the device index `slot`,
// attention masks the unwritten entries of the full-capacity buffers, and RoPE and learned
// positions read the slot. So every step has the same shapes and the same addresses. Families
// opt in (LanguageModel::supports_static_decode) once tests/models/static_decode_test.cpp
// holds their static steps equal to ordinary ones. The others always decode eagerly.
#include <torch/torch.h>

#include <memory>

#include "models/model.h"

namespace dreamer::models {

enum class DecodeMode {
  kEager,   // ordinary forward calls (host positions, growing cache views)
  kStatic,  // static-shape forward calls, not captured (the graph's CPU twin; tests)
  kGraph,   // static-shape steps, the third and later replayed from one CUDA graph
};

// Whether this build can capture CUDA graphs (a CUDA LibTorch 2.x).
bool cuda_graphs_compiled();

// kGraph for a family that supports static decoding on a CUDA device (in a build with graphs)
// and whose step is capturable there (LanguageModel::decode_step_capturable), when `graphs` is
// on and no routing trace is asked for (a replay would not refill it); otherwise kEager.
DecodeMode choose_decode_mode(const LanguageModel& model, const torch::Device& device,
                              const ForwardOptions& options, bool graphs);

class StaticDecoder {
 public:
  // `state` holds this batch's prefill (caches of state.capacity positions), and it must
  // outlive the decoder. kStatic and kGraph switch it to static decoding. With kGraph, the
  // caller keeps the autocast setting of the capture (the graph holds its casts) until the
  // decoder is gone.
  StaticDecoder(LanguageModel& model, InferenceState& state, ForwardOptions options,
                DecodeMode mode);
  ~StaticDecoder();
  StaticDecoder(const StaticDecoder&) = delete;
  StaticDecoder& operator=(const StaticDecoder&) = delete;

  // tokens [B, 1] int64 on the model's device -> that step's forward output. With kGraph only
  // `logits` is filled, and the next step overwrites it: read it before the next call.
  ModelOutput step(const torch::Tensor& tokens);
  DecodeMode mode() const { return mode_; }

 private:
  struct Graph;  // CUDA builds only
  LanguageModel& model_;
  InferenceState& state_;
  ForwardOptions options_;
  DecodeMode mode_;
  int64_t steps_ = 0;
  std::unique_ptr<Graph> graph_;
};

}  // namespace dreamer::models
