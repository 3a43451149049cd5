#pragma once
// Cross-entropy of an LM head without the [N, V] logits: the rows go through the head in
// chunks, and each chunk's gradient is formed in the forward (the Liger-kernel scheme), so
// neither pass holds more than one chunk of logits. Under CUDA autocast the head's matmuls run
// in the autocast dtype, as nn::Linear's would; the log-softmax is float32. On CUDA, where the
// project's kernels are compiled in (util/cuda_kernels.h), one fused kernel per
// chunk forms the loss and the gradient from the logits in the head dtype
// (train/cross_entropy_cuda.h); elsewhere LibTorch ops do, in float32.
#include <torch/torch.h>

namespace dreamer::train {

// Mean over rows of -log softmax(hidden @ weight^T + bias)[target]. hidden [N, d], weight
// [V, d], bias [V] or undefined, targets [N] int64. chunk_rows: rows per chunk (>= 1).
torch::Tensor chunked_linear_cross_entropy(const torch::Tensor& hidden, const torch::Tensor& weight,
                                           const torch::Tensor& bias, const torch::Tensor& targets,
                                           int64_t chunk_rows);

// Rows per chunk that keep one chunk's float32 logits near `bytes` (at least 1 row).
int64_t cross_entropy_chunk_rows(int64_t vocab_size, int64_t bytes = int64_t{256} << 20);

}  // namespace dreamer::train
