#include "models/blocks/rope_cuda.h"

#include <ATen/ops/empty.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include <limits>

#include "util/cuda_storage.h"

#include "models/blocks/rope_kernel.cuh"

namespace dreamer::models {

namespace {

using cuda::CudaType;

// x [B, H, T, D] and its new contiguous output, as the kernel reads them.
template <typename T>
rope_kernel::Operand<T> operand(const at::Tensor& x, at::Tensor& out) {
  rope_kernel::Operand<T> o;
  if (!x.defined()) return o;
  out = at::empty(x.sizes(), x.options());
  TORCH_CHECK(x.size(0) * x.size(1) * x.size(2) <= std::numeric_limits<int>::max(),
              "rope_qk_cuda: more than 2^31 rows");
  o.in = static_cast<const T*>(x.data_ptr());
  o.out = static_cast<T*>(out.data_ptr());
  o.rows = static_cast<int>(x.size(0) * x.size(1) * x.size(2));
  o.heads = static_cast<int>(x.size(1));
  o.stride_b = x.stride(0);
  o.stride_h = x.stride(1);
  o.stride_t = x.stride(2);
  o.stride_d = x.stride(3);
  return o;
}

// One launch for a and b (either may be undefined: it is skipped), both of dtype Scalar.
template <typename Scalar>
void launch(const at::Tensor& a, const at::Tensor& b, const at::Tensor& cos, const at::Tensor& sin,
            bool inverse, at::Tensor& a_out, at::Tensor& b_out) {
  using T = typename CudaType<Scalar>::type;
  const auto oa = operand<T>(a, a_out), ob = operand<T>(b, b_out);
  rope_kernel::Trig trig;
  trig.cos = cos.data_ptr<float>();
  trig.sin = sin.data_ptr<float>();
  trig.stride_t = cos.stride(0);
  trig.stride_d = cos.stride(1);
  const int seq = static_cast<int>(cos.size(0)), half = static_cast<int>(cos.size(1));
  C10_CUDA_CHECK(rope_kernel::launch_rope_pair<T>(oa, ob, trig, seq, half, inverse,
                                                  c10::cuda::getCurrentCUDAStream()));
}

void launch_any(const at::Tensor& a, const at::Tensor& b, const at::Tensor& cos,
                const at::Tensor& sin, bool inverse, at::Tensor& a_out, at::Tensor& b_out) {
  switch ((a.defined() ? a : b).scalar_type()) {
    case at::kFloat:
      return launch<float>(a, b, cos, sin, inverse, a_out, b_out);
    case at::kBFloat16:
      return launch<at::BFloat16>(a, b, cos, sin, inverse, a_out, b_out);
    case at::kHalf:
      return launch<at::Half>(a, b, cos, sin, inverse, a_out, b_out);
    default:
      TORCH_CHECK(false, "rope_qk_cuda: float32, bfloat16 or float16 only, got ",
                  (a.defined() ? a : b).scalar_type());
  }
}

}  // namespace

std::pair<at::Tensor, at::Tensor> rope_qk_cuda(const at::Tensor& q, const at::Tensor& k,
                                               const at::Tensor& cos, const at::Tensor& sin,
                                               bool inverse) {
  TORCH_CHECK(q.is_cuda() && k.device() == q.device() && cos.device() == q.device() &&
                  sin.device() == q.device(),
              "rope_qk_cuda: q, k, cos and sin must be on one CUDA device");
  TORCH_CHECK(q.dim() == 4 && k.dim() == 4 && q.size(2) == k.size(2) && q.size(3) == k.size(3),
              "rope_qk_cuda: q and k must be [B, H, T, D] of one T and D, got ", q.sizes(), " and ",
              k.sizes());
  TORCH_CHECK(cos.scalar_type() == at::kFloat && sin.scalar_type() == at::kFloat &&
                  cos.dim() == 2 && cos.sizes() == sin.sizes() && cos.strides() == sin.strides() &&
                  cos.size(0) == q.size(2) && 2 * cos.size(1) == q.size(3),
              "rope_qk_cuda: cos and sin must be float32 [T, D/2] of one layout, got ", cos.sizes(),
              " for q ", q.sizes());
  const c10::cuda::CUDAGuard guard(q.device());
  at::Tensor q_out, k_out;
  if (q.scalar_type() == k.scalar_type()) {
    launch_any(q, k, cos, sin, inverse, q_out, k_out);
  } else {  // rare: one launch per dtype
    launch_any(q, at::Tensor(), cos, sin, inverse, q_out, k_out);
    launch_any(at::Tensor(), k, cos, sin, inverse, q_out, k_out);
  }
  return {q_out, k_out};
}

}  // namespace dreamer::models
