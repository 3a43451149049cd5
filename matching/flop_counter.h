#pragma once
// Counts the matrix-multiply FLOPs that ATen actually executes while the counter is alive,
// from the real tensor shapes (RecordFunction callbacks on mm/bmm/addmm/baddbmm and the fused
// attention kernels). It checks the analytic cost model against what a forward pass ran,
// without instrumenting any block. Element-wise work (norms, softmax, activations, top-k) is
// not counted: the cost-model convention counts matmul FLOPs only, like nanochat's 6N.
#include <ATen/record_function.h>

#include <cstdint>
#include <map>
#include <string>

namespace dreamer::matching {

class FlopCounter {
 public:
  FlopCounter();   // starts counting on this thread
  ~FlopCounter();  // stops
  FlopCounter(const FlopCounter&) = delete;
  FlopCounter& operator=(const FlopCounter&) = delete;

  double total() const;
  const std::map<std::string, double>& by_op() const { return by_op_; }
  void add(const std::string& op, double flops) { by_op_[op] += flops; }

 private:
  at::CallbackHandle handle_;
  FlopCounter* previous_;
  std::map<std::string, double> by_op_;
};

}  // namespace dreamer::matching
