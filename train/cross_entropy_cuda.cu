#include "train/cross_entropy_cuda.h"

#include <ATen/ops/empty.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include <limits>

#include "util/cuda_storage.h"

#include "train/cross_entropy_kernel.cuh"

namespace dreamer::train {

namespace {

using cuda::CudaType;

template <typename Scalar>
void launch(at::Tensor& logits, const at::Tensor& targets, at::Tensor& loss, double scale) {
  using T = typename CudaType<Scalar>::type;
  C10_CUDA_CHECK(ce_kernel::launch_cross_entropy_grad<T>(
      static_cast<T*>(logits.data_ptr()), targets.data_ptr<int64_t>(), loss.data_ptr<float>(),
      static_cast<int>(logits.size(0)), static_cast<int>(logits.size(1)), static_cast<float>(scale),
      c10::cuda::getCurrentCUDAStream()));
}

}  // namespace

at::Tensor cross_entropy_grad_cuda(at::Tensor logits, const at::Tensor& targets, double scale) {
  TORCH_CHECK(logits.is_cuda() && targets.device() == logits.device(),
              "cross_entropy_grad_cuda: logits and targets must be on one CUDA device");
  TORCH_CHECK(logits.dim() == 2 && logits.is_contiguous(),
              "cross_entropy_grad_cuda: contiguous logits [rows, V] expected, got ",
              logits.sizes());
  TORCH_CHECK(
      targets.dim() == 1 && targets.size(0) == logits.size(0) && targets.scalar_type() == at::kLong,
      "cross_entropy_grad_cuda: int64 targets [rows] expected, got ", targets.sizes(), " of ",
      targets.scalar_type());
  TORCH_CHECK(logits.size(0) <= std::numeric_limits<int>::max() && logits.size(1) >= 1 &&
                  logits.size(1) <= std::numeric_limits<int>::max(),
              "cross_entropy_grad_cuda: rows and V must be in [1, 2^31), got ", logits.sizes());
  const c10::cuda::CUDAGuard guard(logits.device());
  const auto t = targets.contiguous();
  auto loss = at::empty({logits.size(0)}, logits.options().dtype(at::kFloat));
  switch (logits.scalar_type()) {
    case at::kFloat:
      launch<float>(logits, t, loss, scale);
      break;
    case at::kBFloat16:
      launch<at::BFloat16>(logits, t, loss, scale);
      break;
    case at::kHalf:
      launch<at::Half>(logits, t, loss, scale);
      break;
    default:
      TORCH_CHECK(false, "cross_entropy_grad_cuda: float32, bfloat16 or float16 only, got ",
                  logits.scalar_type());
  }
  return loss;
}

}  // namespace dreamer::train
