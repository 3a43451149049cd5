// The op probe of `dreamer bench-memory --ops` (train/memory_ops.h) on the CPU at a small
// size: every op kind runs, and its MEMOP line (measured saved bytes against the ledger's
// charge) is printed so that a run under another LibTorch shows which ops differ.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <iostream>

#include "train/memory_ops.h"

namespace dreamer::testing {
namespace {

TEST(MemoryOps, EveryOpKindRunsOnTheCpu) {
  train::OpProbeOptions o;
  o.batch = 2;
  o.seq = 64;
  o.d_model = 64;
  o.heads = 4;
  o.ffn_hidden = 128;
  o.experts = 8;
  o.k = 2;
  o.expert_dim = 32;
  o.vocab = 256;
  const auto ops = train::measure_op_memory(torch::Device(torch::kCPU), o);
  ASSERT_FALSE(ops.empty());
  for (const auto& m : ops) {
    std::cout << train::op_memory_line(m) << "\n";
    EXPECT_TRUE(m.note.empty()) << m.op << ": " << m.note;
    EXPECT_GT(m.measured, 0) << m.op;
    EXPECT_GT(m.predicted, 0) << m.op;
  }
}

}  // namespace
}  // namespace dreamer::testing
