// The expert-dispatch gathers whose backward is a gather (models/blocks/slot_permutation.h)
// against plain index_select autograd, on the CPU and on CUDA where there is a device (skipped
// otherwise), where the grouped path's gradients are compared with the loop's too. The loop built
// on them is checked against a dense reference in fast_paths_test.cpp
// (ExpertLoop.ValuesAndGradientsEqualDenseMaskedComputation).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "models/blocks/experts.h"
#include "models/blocks/slot_permutation.h"
#include "tests/test_util.h"
#include "util/device.h"

namespace dreamer::testing {
namespace {

using namespace dreamer::models;

// ids [n, k] over e experts: top-k of random scores, so no expert twice within a token, but
// experts shared across tokens.
torch::Tensor random_ids(int64_t n, int64_t e, int64_t k, torch::Device device) {
  return std::get<1>(torch::rand({n, e}, torch::TensorOptions().device(device)).topk(k, 1));
}

double unit_roundoff(torch::ScalarType dtype) {
  switch (dtype) {
    case torch::kFloat64:
      return std::ldexp(1.0, -53);
    case torch::kFloat32:
      return std::ldexp(1.0, -24);
    case torch::kBFloat16:
      return std::ldexp(1.0, -8);
    default:
      ADD_FAILURE() << "no unit roundoff for " << dtype;
      return 0;
  }
}

torch::Tensor grad_of(const torch::Tensor& out, const torch::Tensor& in, const torch::Tensor& g) {
  return torch::autograd::grad({out}, {in}, {g})[0];
}

// permute_rows (both uses: sorted outputs back to slot order, gates [N*k] into sorted order) and
// gather_to_slots against index_select, values and gradients under a random upstream gradient.
void expect_gathers_equal_index_select(torch::ScalarType dtype, torch::Device device, int64_t n,
                                       int64_t d, int64_t e, int64_t k) {
  SCOPED_TRACE(::testing::Message() << dtype << " k " << k << " on " << device);
  torch::manual_seed(k);
  const auto opt = torch::TensorOptions().dtype(dtype).device(device);
  const ExpertSlots slots = sort_slots(random_ids(n, e, k, device), e);

  // A permutation: one source per row, so values and gradients are exact in every dtype.
  auto y = torch::randn({n * k, d}, opt).requires_grad_();
  auto gy = torch::randn({n * k, d}, opt);
  auto out = permute_rows(y, slots.position, slots.order);
  auto ref = y.index_select(0, slots.position);
  EXPECT_TRUE(torch::equal(out, ref));
  EXPECT_TRUE(torch::equal(grad_of(out, y, gy), grad_of(ref, y, gy)));

  auto gates = torch::rand({n * k}, opt).requires_grad_();
  auto gg = torch::randn({n * k}, opt);
  auto slot_gates = permute_rows(gates, slots.order, slots.position);
  auto gates_ref = gates.index_select(0, slots.order);
  EXPECT_TRUE(torch::equal(slot_gates, gates_ref));
  EXPECT_TRUE(torch::equal(grad_of(slot_gates, gates, gg), grad_of(gates_ref, gates, gg)));

  // Tokens to slots: the values are copies (exact); each token's gradient sums its k slots'
  // rows. Each side rounds at most k times to dtype, each rounding within the unit roundoff of
  // a partial sum no larger than sum_j |g_j|, hence the bound 2 k u sum_j |g_j| per element
  // (exact up to summation order in float64).
  auto x = torch::randn({n, d}, opt).requires_grad_();
  auto gx = torch::randn({n * k, d}, opt);
  auto rows = gather_to_slots(x, slots.token_of_slot, slots.position);
  auto rows_ref = x.index_select(0, slots.token_of_slot);
  EXPECT_TRUE(torch::equal(rows, rows_ref));
  auto grad_x = grad_of(rows, x, gx).to(torch::kFloat64);
  auto grad_x_ref = grad_of(rows_ref, x, gx).to(torch::kFloat64);
  auto bound = torch::zeros({n, d}, grad_x.options())
                   .index_add_(0, slots.token_of_slot, gx.abs().to(torch::kFloat64)) *
               (2 * k * unit_roundoff(dtype));
  auto excess = ((grad_x - grad_x_ref).abs() - bound).max().item<double>();
  EXPECT_LE(excess, 0.0) << "max |grad_x - index_select's| = " << max_abs_diff(grad_x, grad_x_ref);
}

TEST(ExpertSlotGather, PermuteAndGatherEqualIndexSelectWithGradients) {
  for (auto dtype : {torch::kFloat64, torch::kFloat32, torch::kBFloat16})
    for (int64_t k : {1, 2, 4}) expect_gathers_equal_index_select(dtype, torch::kCPU, 37, 5, 6, k);
}

TEST(ExpertSlotGather, RejectsIndicesOfTheWrongLength) {
  const ExpertSlots slots = sort_slots(random_ids(4, 5, 2, torch::kCPU), 5);
  EXPECT_THROW(permute_rows(torch::randn({7, 3}), slots.position, slots.order), c10::Error);
  EXPECT_THROW(gather_to_slots(torch::randn({3, 3}), slots.token_of_slot, slots.position),
               c10::Error);
}

// The names of every node in y's backward graph.
std::vector<std::string> backward_node_names(const torch::Tensor& y) {
  std::vector<std::string> names;
  std::vector<torch::autograd::Node*> stack = {y.grad_fn().get()};
  std::set<torch::autograd::Node*> seen;
  while (!stack.empty()) {
    auto* node = stack.back();
    stack.pop_back();
    if (node == nullptr || !seen.insert(node).second) continue;
    names.push_back(node->name());
    for (const auto& edge : node->next_edges()) stack.push_back(edge.function.get());
  }
  return names;
}

// The expert loop's backward runs through the two functions and no index_select backward
// (index_add).
TEST(ExpertSlotGather, ExpertLoopBackwardHasNoIndexSelectBackward) {
  ExpertFFN f(4, 8, 8, Activation::kSwiGLU);
  auto x = torch::randn({6, 8}, torch::requires_grad());
  auto gates = torch::rand({6, 2}, torch::requires_grad());
  const auto names = backward_node_names(f->forward(x, random_ids(6, 4, 2, torch::kCPU), gates));
  auto count = [&](const std::string& part) {
    return std::count_if(names.begin(), names.end(), [&](const std::string& name) {
      return name.find(part) != std::string::npos;
    });
  };
  EXPECT_EQ(count("IndexSelectBackward"), 0);
  EXPECT_EQ(count("PermuteRows"), 1);
  EXPECT_EQ(count("GatherToSlots"), 1);
}

// ---------------------------------------------------------------- CUDA

TEST(CudaExpertSlotGather, PermuteAndGatherEqualIndexSelectInFloatAndBf16) {
  SKIP_WITHOUT_CUDA();
  const torch::Device cuda(torch::kCUDA, 0);
  for (auto dtype : {torch::kFloat32, torch::kBFloat16})
    for (int64_t k : {1, 2, 4, 8}) expect_gathers_equal_index_select(dtype, cuda, 1024, 128, 64, k);
}

// The grouped path against the loop, with the input gradient: float32 x under autocast (cast to
// bf16 before the gather) and bf16 x with bf16 weights (no autocast).
TEST(CudaExpertSlotGather, GroupedGradientsEqualLoopForFloatAndBf16Inputs) {
  SKIP_WITHOUT_CUDA();
  if (!grouped_experts_compiled()) GTEST_SKIP() << "LibTorch < 2.9: no at::_grouped_mm";
  const torch::Device cuda(torch::kCUDA, 0);
  for (bool bf16_inputs : {false, true}) {
    SCOPED_TRACE(::testing::Message() << "bf16 inputs " << bf16_inputs);
    torch::manual_seed(0);
    const int64_t n = 512, d = 128, e = 64, de = 64, k = 8;
    const auto dtype = bf16_inputs ? torch::kBFloat16 : torch::kFloat32;
    ExpertFFN f(e, d, de, Activation::kSwiGLU);
    f->to(cuda, dtype);
    auto x = torch::randn({n, d}, torch::TensorOptions().dtype(dtype).device(cuda));
    x.requires_grad_();
    auto ids = random_ids(n, e, k, cuda);
    auto gates = torch::rand({n, k}, x.options()).requires_grad_();
    auto g = torch::randn({n, d}, x.options());
    const std::vector<torch::Tensor> inputs = {x, gates, f->w_up, f->w_gate, f->w_down};
    auto run = [&](bool grouped) {
      CudaAutocast autocast(!bf16_inputs);
      EXPECT_TRUE(f->grouped_available(x));
      auto y = grouped ? f->forward_grouped(x, ids, gates) : f->forward_loop(x, ids, gates);
      auto grads = torch::autograd::grad({y}, inputs, {g.to(y.scalar_type())});
      grads.insert(grads.begin(), y.detach());
      return grads;
    };
    auto grouped = run(true), loop = run(false);
    for (size_t i = 0; i < grouped.size(); ++i) {
      SCOPED_TRACE(::testing::Message() << "output/grad " << i);
      EXPECT_EQ(grouped[i].scalar_type(), loop[i].scalar_type());
      EXPECT_RELATIVE_NEAR(grouped[i], loop[i], 2e-2);
    }
  }
}

}  // namespace
}  // namespace dreamer::testing
