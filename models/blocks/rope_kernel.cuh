#pragma once
// Device code of the fused RoPE (rope_cuda.cu is its LibTorch side). It depends on the CUDA
// headers alone, so that it compiles and runs without LibTorch (`nvcc -arch=sm_90` on a
// harness that includes just this file).
//
// One launch rotates two tensors [B, H, T, D] (q and k of one attention, whose head counts may
// differ): each is read through its own four strides, so the transposed projection views need
// no .contiguous() copy, and each is written to a contiguous [B, H, T, D] output. Pairs are
// rotate-half: element i with element i + D/2, by cos/sin [T, D/2] (float32, any strides).
// Math is in float32 whatever the storage type (float, __nv_bfloat16, __half).
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "util/cuda_scalar.cuh"

namespace dreamer::models::rope_kernel {

// One tensor to rotate: its input (strided) and its output (contiguous, same sizes).
template <typename T>
struct Operand {
  const T* in = nullptr;
  T* out = nullptr;
  int rows = 0;  // B * H * T; 0: nothing to do
  int heads = 0;
  int64_t stride_b = 0, stride_h = 0, stride_t = 0, stride_d = 0;
};

struct Trig {
  const float* cos = nullptr;
  const float* sin = nullptr;
  int64_t stride_t = 0, stride_d = 0;
};

// A warp per row (one b, h, t): its 32 lanes take consecutive pairs, so with a unit stride
// along D each load of the lanes is one contiguous run. kRowsPerBlock warps per block.
constexpr int kLanes = 32;
constexpr int kRowsPerBlock = 8;

using cuda::from_float;
using cuda::to_float;

// Rotates the row of x that this thread's warp has in `block` (of kRowsPerBlock rows).
template <typename T>
__device__ __forceinline__ void rotate_row(const Operand<T>& x, int block, const Trig& trig,
                                           int seq, int half, float sin_sign) {
  const int row = block * kRowsPerBlock + threadIdx.y;
  if (row >= x.rows) return;
  // row = (b * H + h) * T + t: the output's row, and the coordinates of the strided input.
  const int t = row % seq, bh = row / seq;
  const int h = bh % x.heads, bi = bh / x.heads;
  const T* in = x.in + bi * x.stride_b + h * x.stride_h + t * x.stride_t;
  T* out = x.out + static_cast<int64_t>(row) * (2 * half);
  const float* cos_row = trig.cos + t * trig.stride_t;
  const float* sin_row = trig.sin + t * trig.stride_t;
  for (int i = threadIdx.x; i < half; i += kLanes) {
    const float x1 = to_float(in[i * x.stride_d]);
    const float x2 = to_float(in[(i + half) * x.stride_d]);
    const float c = cos_row[i * trig.stride_d];
    const float s = sin_sign * sin_row[i * trig.stride_d];
    out[i] = from_float<T>(x1 * c - x2 * s);
    out[i + half] = from_float<T>(x2 * c + x1 * s);
  }
}

// Blocks [0, blocks_a) take rows of `a`, the rest rows of `b`: one launch for both tensors,
// with a block-uniform branch (one call per branch, so that the operand is read straight from
// the kernel parameters, not copied to the stack). sin_sign -1 rotates by -angle (the
// backward: the transpose of a rotation is its inverse).
template <typename T>
__global__ void __launch_bounds__(kLanes* kRowsPerBlock)
    rope_pair_kernel(Operand<T> a, Operand<T> b, int blocks_a, Trig trig, int seq, int half,
                     float sin_sign) {
  if (static_cast<int>(blockIdx.x) < blocks_a)
    rotate_row(a, blockIdx.x, trig, seq, half, sin_sign);
  else
    rotate_row(b, blockIdx.x - blocks_a, trig, seq, half, sin_sign);
}

// Launches the kernel on `stream` for a and b (either may have rows 0); returns the launch's
// error. seq: T of both tensors (and the rows of cos/sin); half: D/2.
template <typename T>
cudaError_t launch_rope_pair(const Operand<T>& a, const Operand<T>& b, const Trig& trig, int seq,
                             int half, bool inverse, cudaStream_t stream) {
  const int blocks_a = (a.rows + kRowsPerBlock - 1) / kRowsPerBlock;
  const int blocks_b = (b.rows + kRowsPerBlock - 1) / kRowsPerBlock;
  if (blocks_a + blocks_b == 0) return cudaSuccess;
  rope_pair_kernel<T><<<blocks_a + blocks_b, dim3(kLanes, kRowsPerBlock), 0, stream>>>(
      a, b, blocks_a, trig, seq, half, inverse ? -1.0f : 1.0f);
  return cudaGetLastError();
}

}  // namespace dreamer::models::rope_kernel
