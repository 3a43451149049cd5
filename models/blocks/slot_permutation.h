#pragma once
// The row gathers of expert dispatch (experts.h), as autograd functions whose backward is a
// gather too. index_select's own backward is index_add, which on a GPU accumulates with atomics
// (indexFuncLargeIndex) although here every gradient row has a known, fixed set of sources:
// a permutation's inverse, or a token's k slots.
//
// Both functions keep only their index tensors for backward. Their backward is written in
// differentiable ops, so a double backward would be correct, but nothing in the project takes
// one (no gradient of a gradient flows through expert dispatch), and it is not tested.
#include <torch/torch.h>

namespace dreamer::models {

// t.index_select(0, order) for a permutation `order` of t's rows, `inverse` its inverse
// (inverse[order[i]] = i). Backward: g.index_select(0, inverse).
torch::Tensor permute_rows(const torch::Tensor& t, const torch::Tensor& order,
                           const torch::Tensor& inverse);

// x [N, ...] gathered to N*k slots, each token in k of them: x.index_select(0, token_of_slot),
// where token_of_slot[s] = order[s] / k for a permutation `order` of the slots n*k + j and
// `position` is order's inverse. Backward: grad_x[n] = sum_j g[position[n*k + j]] (a gather of
// N*k rows and a sum over k), since slot s holds token order[s] / k.
torch::Tensor gather_to_slots(const torch::Tensor& x, const torch::Tensor& token_of_slot,
                              const torch::Tensor& position);

}  // namespace dreamer::models
