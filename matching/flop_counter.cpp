#include "matching/flop_counter.h"

#include <ATen/core/ivalue.h>

#include <cstring>
#include <stdexcept>

namespace dreamer::matching {

namespace {

thread_local FlopCounter* active_counter = nullptr;

int64_t numel_of(c10::IntArrayRef sizes, size_t drop_last) {
  int64_t n = 1;
  for (size_t i = 0; i + drop_last < sizes.size(); ++i) n *= sizes[i];
  return n;
}

// FLOPs of one executed op from its inputs; 0 for ops we do not count.
double op_flops(const at::RecordFunction& fn) {
  const char* name = fn.name();
  auto inputs = fn.inputs();
  auto tensor_sizes = [&](size_t i) -> c10::IntArrayRef {
    if (i >= inputs.size() || !inputs[i].isTensor())
      throw std::logic_error("flop counter: no tensor");
    return inputs[i].toTensor().sizes();
  };
  try {
    if (!std::strcmp(name, "aten::mm")) {  // [M, K] x [K, N]
      auto a = tensor_sizes(0), b = tensor_sizes(1);
      return 2.0 * a[0] * a[1] * b[1];
    }
    if (!std::strcmp(name, "aten::addmm")) {  // bias + [M, K] x [K, N]
      auto a = tensor_sizes(1), b = tensor_sizes(2);
      return 2.0 * a[0] * a[1] * b[1];
    }
    if (!std::strcmp(name, "aten::bmm")) {  // [B, M, K] x [B, K, N]
      auto a = tensor_sizes(0), b = tensor_sizes(1);
      return 2.0 * a[0] * a[1] * a[2] * b[2];
    }
    if (!std::strcmp(name, "aten::baddbmm")) {
      auto a = tensor_sizes(1), b = tensor_sizes(2);
      return 2.0 * a[0] * a[1] * a[2] * b[2];
    }
    // Fused attention kernels (LibTorch 2.x): QK^T and AV over every query-key pair, the same
    // convention as the reference path (masked pairs included).
    // The "_math" variant is a composite whose bmm children are counted themselves.
    if ((!std::strncmp(name, "aten::_scaled_dot_product_", 26) && !std::strstr(name, "_math")) ||
        !std::strcmp(name, "aten::_efficient_attention_forward") ||
        !std::strcmp(name, "aten::_flash_attention_forward")) {
      auto q = tensor_sizes(0), k = tensor_sizes(1);  // [B, H, T, D] layouts
      if (q.size() == 4 && k.size() == 4) return 4.0 * numel_of(q, 0) * k[2];
    }
  } catch (const std::logic_error&) {
    return 0.0;
  }
  return 0.0;
}

std::unique_ptr<at::ObserverContext> on_start(const at::RecordFunction& fn) {
  if (!active_counter) return nullptr;
  const double flops = op_flops(fn);
  if (flops > 0) active_counter->add(fn.name(), flops);
  return nullptr;
}

}  // namespace

FlopCounter::FlopCounter() : previous_(active_counter) {
  // The public aten::scaled_dot_product_attention is not counted (its name lacks the leading
  // underscore); the kernel it dispatches to is.
  handle_ = at::addThreadLocalCallback(at::RecordFunctionCallback(on_start).needsInputs(true));
  active_counter = this;
}

FlopCounter::~FlopCounter() {
  at::removeCallback(handle_);
  active_counter = previous_;
}

double FlopCounter::total() const {
  double sum = 0;
  for (const auto& [op, flops] : by_op_) sum += flops;
  return sum;
}

}  // namespace dreamer::matching
