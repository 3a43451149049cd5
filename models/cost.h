#pragma once
// The cost of a model under a workload: parameters, FLOPs per token and memory. Each family's
// formula lives in its module's file (e.g. models/dreamer.cpp) so code and formula change
// together; tests check the formulas against the instantiated module (parameters) and against
// the FLOPs a forward pass actually executed (matching/flop_counter.h).
//
// Conventions (docs/MATCHING.md):
// - FLOPs count matrix multiplies only, 2 per multiply-add, per token of a full sequence of
//   seq_len tokens; attention scores and mixing count every query-key pair a dense kernel
//   computes (4 * T * head_dim per head and token, masked pairs included, as nanochat's
//   12·L·H·Q·T). Only the selected experts count.
// - Training FLOPs = forward over all recurrences + 2 x forward over the steps with gradients.
// - Memory in bytes; see each field.
#include <cstdint>
#include <string>

#include "models/model.h"

namespace dreamer::models {

// The fused attention kernel at::scaled_dot_product_attention picks (Workload::sdpa_kernel):
// their saved sets differ (docs/MATCHING.md, "Memory model").
enum class SdpaKernel { kFlash, kEfficient, kCudnn, kMath, kCpuFlash };

struct Workload {
  int64_t seq_len = 1024;
  int64_t batch = 8;
  double recurrences = 0;                 // 0 = the family's configured mean
  int64_t param_bytes = 4;                // fp32 master weights
  int64_t activation_bytes = 2;           // bf16 activations and caches
  int64_t optimizer_state_bytes = 8;      // per parameter (AdamW: two fp32 moments)
  bool activation_checkpointing = false;  // keep only each layer application's input
  // How the code runs, where it changes what is kept (docs/MATCHING.md, "Memory model"). The
  // defaults describe the GPU build (LibTorch 2.x, CUDA); `dreamer bench-memory` sets them
  // from the machine it runs on, and matching keeps the defaults so that matched sizes do not
  // depend on where `dreamer match` runs.
  bool fused_attention = true;  // SDPA (no T x T probabilities kept); false: the 1.13 path
  bool grouped_experts = true;  // at::_grouped_mm under bf16 autocast (one weight copy)
  // Chunked cross-entropy rows per chunk; 0 = full [N, V] logits; -1 = the trainer's choice
  // (train::cross_entropy_chunk_rows: about 256 MiB of float32 logits per chunk).
  int64_t loss_chunk_rows = -1;
  int64_t allocation_granularity = 512;   // the CUDA caching allocator rounds blocks to 512 B
  bool grads_freed_between_steps = true;  // zero_grad sets gradients to none (LibTorch 2.x)
  // The LibTorch release (major * 100 + minor: 113, 211) and the SDPA kernel it picks: the
  // saved sets of RMSNorm (composite vs _fused_rms_norm) and attention differ between them.
  int64_t torch_version = 211;
  bool cuda = true;  // the step runs on a CUDA device (else the CPU): kernels differ by device
  SdpaKernel sdpa_kernel = SdpaKernel::kFlash;  // with fused_attention (CUDA bf16: flash)
  bool fused_optimizer = true;  // the fused CUDA AdamW (no per-parameter temporaries)
  // SwiGLU's gating is one autograd node keeping gate and up (models/blocks/swiglu.h), on every
  // device; false: the plain silu(gate) * up of builds before 2026-12-03, which also kept
  // silu(gate). Only for reading peaks measured by those builds.
  bool fused_swiglu = true;
  int64_t runtime_workspace_bytes = 0;  // allocations of the runtime itself (cuBLAS workspaces)
};

// Training and inference memory by part, in bytes (models/memory.h computes it).
struct MemoryBreakdown {
  double weights = 0;            // master weights (param_bytes each)
  double gradients = 0;          // one per parameter, param_bytes
  double optimizer = 0;          // AdamW's two fp32 moments
  double autocast_copies = 0;    // low-precision weight copies autocast keeps for backward
  double activations = 0;        // tensors the blocks save for backward at the end of forward
  double logits_loss = 0;        // the LM head's logits and loss buffers at their peak (backward)
  double logits_loss_saved = 0;  // the part of those kept from forward to backward
  double checkpoint_recompute = 0;  // one block's activations rebuilt in backward (checkpointing)
  double train_peak = 0;            // predicted peak of one training step
  double inference_weights = 0;     // weights in the activation dtype
  double inference_caches = 0;      // sequence KV per layer/depth and depth caches at seq_len
};

struct Cost {
  ParameterCounts params;
  int64_t active_params = 0;  // parameters touched per token (selected experts only)
  double flops_forward_per_token = 0;
  double flops_train_per_token = 0;
  double memory_train_bytes = 0;       // predicted peak of a training step (memory.train_peak)
  double memory_activation_bytes = 0;  // saved for backward: blocks + logits/loss
  double memory_inference_bytes = 0;  // weights (activation dtype) + KV and depth caches at seq_len
  MemoryBreakdown memory;             // the parts of the three fields above
  double flops_recompute_per_token = 0;  // activation checkpointing: the extra forward (in train)
};

// The shared SequenceAttention block (models/blocks/sequence_attention.h), per token of a
// sequence of seq_len: forward matmul FLOPs (q, k, v, o, then scores and mixing over every
// query-key pair). Memory: models/memory.h.
double sequence_attention_flops(double d_model, double heads, double kv_heads, double head_dim,
                                double seq_len);

}  // namespace dreamer::models
