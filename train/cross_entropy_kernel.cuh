#pragma once
// Device code of the fused cross-entropy gradient (cross_entropy_cuda.cu is its LibTorch
// side). It depends on the CUDA headers alone, so that it compiles and runs without LibTorch
// (`nvcc -arch=sm_90` on a harness that includes just this file).
//
// logits [rows, V] (row-major, float, __nv_bfloat16 or __half) are overwritten with the
// gradient of the summed loss times `scale`: (softmax - one_hot(target)) * scale, computed in
// float32 and rounded once to the storage type; loss[row] = lse - logit[target] in float32.
// This replaces about seven full passes of LibTorch ops over float32 copies of the logits
// (cast, logsumexp, subtract, exp, scatter, divide, cast back) with two over the logits
// themselves.
//
// One block per row. Pass 1 reads the row for its max and sum of exp (online, float32), the
// block reduces them; pass 2 reads the row again and writes the gradient in place. The second
// read mostly hits L2: blocks are wide (up to 1024 threads), so few rows are in flight per SM
// (a row is 64 kB at V 32000 in bf16). Loads are 16 bytes where the row is aligned; a row
// whose start is not (V * sizeof(T) not a multiple of 16) has a scalar head and tail.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "util/cuda_scalar.cuh"

namespace dreamer::train::ce_kernel {

using cuda::from_float;
using cuda::to_float;

constexpr int kWarp = 32;
constexpr int kMaxThreads = 1024;

// A running max m and sum of exp(x - m) over some values; none(): m = -inf, s = 0. No member
// initialisers: the block reduction keeps MaxSums in __shared__ memory.
struct MaxSum {
  float m, s;
  __device__ static MaxSum none() { return {-INFINITY, 0.0f}; }
};

// Adds n values to `acc` with one rescale of its sum. NaN propagates through the sum (fmaxf
// drops it from the max, exp(NaN - m) keeps it). __expf: one MUFU op, a few float32 ulps
// (relative) for the arguments <= 0 it sees here, far below a bf16 rounding; full expf would
// make pass 1 compute-bound in bf16.
template <int n>
__device__ __forceinline__ void add_values(MaxSum& acc, const float (&x)[n]) {
  float m = acc.m;
#pragma unroll
  for (int i = 0; i < n; ++i) m = fmaxf(m, x[i]);
  if (m == -INFINITY) return;  // all -inf so far: nothing to add (and no -inf - -inf)
  float s = acc.s * __expf(acc.m - m);
#pragma unroll
  for (int i = 0; i < n; ++i) s += __expf(x[i] - m);
  acc.m = m;
  acc.s = s;
}

__device__ __forceinline__ MaxSum combine(const MaxSum& a, const MaxSum& b) {
  const float m = fmaxf(a.m, b.m);
  if (m == -INFINITY) return a;
  return {m, a.s * __expf(a.m - m) + b.s * __expf(b.m - m)};
}

// The block's MaxSum, on every thread (blockDim.x a multiple of 32, at most 1024). scratch:
// __shared__, kMaxThreads / kWarp + 1 entries.
__device__ __forceinline__ MaxSum block_reduce(MaxSum v, MaxSum* scratch) {
  MaxSum* warps = scratch;
  MaxSum& total = scratch[kMaxThreads / kWarp];
#pragma unroll
  for (int offset = kWarp / 2; offset > 0; offset /= 2) {
    MaxSum other;
    other.m = __shfl_xor_sync(0xffffffffu, v.m, offset);
    other.s = __shfl_xor_sync(0xffffffffu, v.s, offset);
    v = combine(v, other);
  }
  const int warp = threadIdx.x / kWarp, lane = threadIdx.x % kWarp;
  if (lane == 0) warps[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < static_cast<int>(blockDim.x / kWarp) ? warps[lane] : MaxSum::none();
#pragma unroll
    for (int offset = kWarp / 2; offset > 0; offset /= 2) {
      MaxSum other;
      other.m = __shfl_xor_sync(0xffffffffu, v.m, offset);
      other.s = __shfl_xor_sync(0xffffffffu, v.s, offset);
      v = combine(v, other);
    }
    if (lane == 0) total = v;
  }
  __syncthreads();
  return total;
}

// Where a row's 16-byte vectors are: `head` scalars up to the first aligned address, then
// `vectors` vectors of kWidth, then the scalar tail up to V.
template <typename T>
struct RowLayout {
  static constexpr int kWidth = 16 / sizeof(T);
  int head, vectors, tail_start;
  __device__ RowLayout(const T* row, int vocab) {
    const auto misaligned = reinterpret_cast<uintptr_t>(row) % 16;
    head = misaligned == 0 ? 0 : static_cast<int>((16 - misaligned) / sizeof(T));
    if (head > vocab) head = vocab;
    vectors = (vocab - head) / kWidth;
    tail_start = head + vectors * kWidth;
  }
};

template <typename T>
__global__ void __launch_bounds__(kMaxThreads)
    cross_entropy_grad_kernel(T* __restrict__ logits, const int64_t* __restrict__ targets,
                              float* __restrict__ loss, int vocab, float scale) {
  const int64_t r = blockIdx.x;
  T* row = logits + r * vocab;
  const RowLayout<T> layout(row, vocab);
  constexpr int kWidth = RowLayout<T>::kWidth;
  const int64_t target = targets[r];
  const bool valid = target >= 0 && target < vocab;
  const int one_hot = valid ? static_cast<int>(target) : -1;  // no column for a bad target

  // Pass 1: max and sum of exp. The scalar head and tail go to the first threads.
  MaxSum acc = MaxSum::none();
  const int t = threadIdx.x;
  if (t < layout.head) add_values<1>(acc, {to_float(row[t])});
  if (layout.tail_start + t < vocab) add_values<1>(acc, {to_float(row[layout.tail_start + t])});
#pragma unroll 4
  for (int k = t; k < layout.vectors; k += blockDim.x) {
    const uint4 raw = *reinterpret_cast<const uint4*>(row + layout.head + k * kWidth);
    const T* v = reinterpret_cast<const T*>(&raw);
    float x[kWidth];
#pragma unroll
    for (int i = 0; i < kWidth; ++i) x[i] = to_float(v[i]);
    add_values(acc, x);
  }
  // Read before the reduction's barrier: pass 2 overwrites it.
  const float target_logit = valid ? to_float(row[one_hot]) : 0.0f;
  __shared__ MaxSum scratch[kMaxThreads / kWarp + 1];
  const MaxSum total = block_reduce(acc, scratch);
  const float lse = total.m + logf(total.s);
  if (t == 0) loss[r] = valid ? lse - target_logit : NAN;

  // Pass 2: the gradient in place. A bad target only loses its one-hot (its loss is NaN).
  auto grad = [&](float x, int j) {
    return from_float<T>((__expf(x - lse) - (j == one_hot ? 1.0f : 0.0f)) * scale);
  };
  if (t < layout.head) row[t] = grad(to_float(row[t]), t);
  if (layout.tail_start + t < vocab) {
    const int j = layout.tail_start + t;
    row[j] = grad(to_float(row[j]), j);
  }
#pragma unroll 4
  for (int k = t; k < layout.vectors; k += blockDim.x) {
    uint4* p = reinterpret_cast<uint4*>(row + layout.head + k * kWidth);
    uint4 raw = *p;
    T* v = reinterpret_cast<T*>(&raw);
    const int j0 = layout.head + k * kWidth;
#pragma unroll
    for (int i = 0; i < kWidth; ++i) v[i] = grad(to_float(v[i]), j0 + i);
    *p = raw;
  }
}

// Threads per block for rows of V: about four vectors each, a whole number of warps, at most
// 1024 (V 32000 in bf16: 1024; V 1000: 32).
template <typename T>
int threads_for(int vocab) {
  const int per_block = (vocab + 4 * RowLayout<T>::kWidth - 1) / (4 * RowLayout<T>::kWidth);
  const int warps = (per_block + kWarp - 1) / kWarp;
  return kWarp * (warps < 1 ? 1 : warps > kMaxThreads / kWarp ? kMaxThreads / kWarp : warps);
}

// Launches the kernel on `stream` for `rows` rows of `vocab` (rows may be 0); returns the
// launch's error.
template <typename T>
cudaError_t launch_cross_entropy_grad(T* logits, const int64_t* targets, float* loss, int rows,
                                      int vocab, float scale, cudaStream_t stream) {
  if (rows == 0) return cudaSuccess;
  cross_entropy_grad_kernel<T>
      <<<rows, threads_for<T>(vocab), 0, stream>>>(logits, targets, loss, vocab, scale);
  return cudaGetLastError();
}

}  // namespace dreamer::train::ce_kernel
