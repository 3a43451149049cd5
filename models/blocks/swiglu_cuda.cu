#include "models/blocks/swiglu_cuda.h"

#include <ATen/ops/empty.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <cstdint>
#include <initializer_list>

#include "util/cuda_scalar.cuh"
#include "util/cuda_storage.h"

namespace dreamer::models {

namespace {

using cuda::CudaType;
using cuda::from_float;
using cuda::to_float;

// kVec elements per thread and iteration: 16 bytes, one vector access per operand where the
// host checked alignment (pointers, row strides, cols); kVec 1 is the general kernel.
template <typename T, int kVec>
struct alignas(sizeof(T) * kVec) Pack {
  T v[kVec];
};

// A [rows, cols] operand: element (r, c) at ptr[r * stride + c].
template <typename T>
struct Rows {
  T* ptr;
  int64_t stride;
};

template <typename T, int kVec>
__global__ void swiglu_forward_kernel(Rows<const T> gate, Rows<const T> up, Rows<T> out,
                                      int64_t rows, int64_t cols) {
  using P = Pack<T, kVec>;
  const int64_t packs_per_row = cols / kVec, packs = rows * packs_per_row;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < packs;
       i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t r = i / packs_per_row, c = (i - r * packs_per_row) * kVec;
    const P g = *reinterpret_cast<const P*>(gate.ptr + r * gate.stride + c);
    const P u = *reinterpret_cast<const P*>(up.ptr + r * up.stride + c);
    P h;
#pragma unroll
    for (int j = 0; j < kVec; ++j) {
      const float x = to_float(g.v[j]);
      h.v[j] = from_float<T>(x / (1.0f + expf(-x)) * to_float(u.v[j]));
    }
    *reinterpret_cast<P*>(out.ptr + r * out.stride + c) = h;
  }
}

// d/dgate silu(g) u = u s (1 + g (1 - s)) with s = sigmoid(g); d/dup = silu(g) = g s.
template <typename T, int kVec>
__global__ void swiglu_backward_kernel(Rows<const T> gate, Rows<const T> up, Rows<const T> grad,
                                       Rows<T> d_gate, Rows<T> d_up, int64_t rows, int64_t cols) {
  using P = Pack<T, kVec>;
  const int64_t packs_per_row = cols / kVec, packs = rows * packs_per_row;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < packs;
       i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t r = i / packs_per_row, c = (i - r * packs_per_row) * kVec;
    const P g = *reinterpret_cast<const P*>(gate.ptr + r * gate.stride + c);
    const P u = *reinterpret_cast<const P*>(up.ptr + r * up.stride + c);
    const P dh = *reinterpret_cast<const P*>(grad.ptr + r * grad.stride + c);
    P dg, du;
#pragma unroll
    for (int j = 0; j < kVec; ++j) {
      const float x = to_float(g.v[j]), s = 1.0f / (1.0f + expf(-x)), d = to_float(dh.v[j]);
      dg.v[j] = from_float<T>(d * to_float(u.v[j]) * s * (1.0f + x * (1.0f - s)));
      du.v[j] = from_float<T>(d * x * s);
    }
    *reinterpret_cast<P*>(d_gate.ptr + r * d_gate.stride + c) = dg;
    *reinterpret_cast<P*>(d_up.ptr + r * d_up.stride + c) = du;
  }
}

template <typename T>
Rows<T> rows_of(const at::Tensor& m) {
  return {static_cast<T*>(const_cast<void*>(m.data_ptr())), m.stride(0)};
}

// Whether 16-byte accesses line up: every pointer aligned, every row stride and cols a
// multiple of the vector width.
bool vectorisable(std::initializer_list<const at::Tensor*> tensors, int64_t cols, int vec) {
  if (cols % vec != 0) return false;
  for (const auto* t : tensors)
    if (reinterpret_cast<std::uintptr_t>(t->data_ptr()) % 16 != 0 || t->stride(0) % vec != 0)
      return false;
  return true;
}

constexpr int kThreads = 256;

// Enough blocks to fill the device several times over; the kernels stride over the rest.
unsigned blocks_for(int64_t packs) {
  const int64_t wanted = (packs + kThreads - 1) / kThreads;
  return static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>(wanted, 132 * 16)));
}

template <typename Scalar>
void forward(const at::Tensor& gate, const at::Tensor& up, at::Tensor& out) {
  using T = typename CudaType<Scalar>::type;
  constexpr int kVec = 16 / sizeof(T);
  const int64_t rows = gate.size(0), cols = gate.size(1);
  const auto stream = c10::cuda::getCurrentCUDAStream();
  const auto g = rows_of<const T>(gate), u = rows_of<const T>(up);
  const auto h = rows_of<T>(out);
  if (vectorisable({&gate, &up, &out}, cols, kVec))
    swiglu_forward_kernel<T, kVec>
        <<<blocks_for(rows * cols / kVec), kThreads, 0, stream>>>(g, u, h, rows, cols);
  else
    swiglu_forward_kernel<T, 1>
        <<<blocks_for(rows * cols), kThreads, 0, stream>>>(g, u, h, rows, cols);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

template <typename Scalar>
void backward(const at::Tensor& gate, const at::Tensor& up, const at::Tensor& grad,
              at::Tensor& d_gate, at::Tensor& d_up) {
  using T = typename CudaType<Scalar>::type;
  constexpr int kVec = 16 / sizeof(T);
  const int64_t rows = gate.size(0), cols = gate.size(1);
  const auto stream = c10::cuda::getCurrentCUDAStream();
  const auto g = rows_of<const T>(gate), u = rows_of<const T>(up), dh = rows_of<const T>(grad);
  const auto dg = rows_of<T>(d_gate), du = rows_of<T>(d_up);
  if (vectorisable({&gate, &up, &grad, &d_gate, &d_up}, cols, kVec))
    swiglu_backward_kernel<T, kVec>
        <<<blocks_for(rows * cols / kVec), kThreads, 0, stream>>>(g, u, dh, dg, du, rows, cols);
  else
    swiglu_backward_kernel<T, 1>
        <<<blocks_for(rows * cols), kThreads, 0, stream>>>(g, u, dh, dg, du, rows, cols);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

// [rows, cols] of gate's shape and dtype on its device, unit stride within a row.
void check(const at::Tensor& gate, const at::Tensor& other, const char* name) {
  TORCH_CHECK(gate.is_cuda() && other.device() == gate.device(), "swiglu_cuda: gate and ", name,
              " must be on one CUDA device");
  TORCH_CHECK(gate.dim() == 2 && other.sizes() == gate.sizes() &&
                  other.scalar_type() == gate.scalar_type() && other.stride(1) == 1 &&
                  gate.stride(1) == 1,
              "swiglu_cuda: gate and ", name,
              " must be [rows, cols] of one dtype with unit stride in a row, got ", gate.sizes(),
              " ", gate.scalar_type(), " and ", other.sizes(), " ", other.scalar_type());
}

template <typename F>
void dispatch(at::ScalarType t, F&& f) {
  switch (t) {
    case at::kFloat:
      return f(float{});
    case at::kBFloat16:
      return f(at::BFloat16{});
    case at::kHalf:
      return f(at::Half{});
    default:
      TORCH_CHECK(false, "swiglu_cuda: float32, bfloat16 or float16 only, got ", t);
  }
}

}  // namespace

at::Tensor swiglu_forward_cuda(const at::Tensor& gate, const at::Tensor& up) {
  check(gate, up, "up");
  const c10::cuda::CUDAGuard guard(gate.device());
  auto out = at::empty(gate.sizes(), gate.options().memory_format(at::MemoryFormat::Contiguous));
  if (gate.numel() > 0)
    dispatch(gate.scalar_type(), [&](auto tag) { forward<decltype(tag)>(gate, up, out); });
  return out;
}

void swiglu_backward_cuda(const at::Tensor& gate, const at::Tensor& up, const at::Tensor& grad,
                          at::Tensor& d_gate, at::Tensor& d_up) {
  check(gate, up, "up");
  check(gate, grad, "grad");
  check(gate, d_gate, "d_gate");
  check(gate, d_up, "d_up");
  const c10::cuda::CUDAGuard guard(gate.device());
  if (gate.numel() > 0)
    dispatch(gate.scalar_type(),
             [&](auto tag) { backward<decltype(tag)>(gate, up, grad, d_gate, d_up); });
}

}  // namespace dreamer::models
