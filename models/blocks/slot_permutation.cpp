#include "models/blocks/slot_permutation.h"

namespace dreamer::models {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

struct PermuteRows : torch::autograd::Function<PermuteRows> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& t,
                               const torch::Tensor& order, const torch::Tensor& inverse) {
    ctx->save_for_backward({inverse});
    return t.index_select(0, order);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto inverse = ctx->get_saved_variables()[0];
    return {grads[0].index_select(0, inverse), torch::Tensor(), torch::Tensor()};
  }
};

struct GatherToSlots : torch::autograd::Function<GatherToSlots> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& token_of_slot, const torch::Tensor& position) {
    ctx->save_for_backward({position});
    ctx->saved_data["n"] = x.size(0);
    return x.index_select(0, token_of_slot);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto position = ctx->get_saved_variables()[0];
    const int64_t n = ctx->saved_data["n"].toInt();
    const int64_t k = n == 0 ? 1 : position.numel() / n;
    auto sizes = grads[0].sizes().vec();  // [N*k, ...] -> [N, k, ...]
    sizes[0] = k;
    sizes.insert(sizes.begin(), n);
    auto grad_x = grads[0].index_select(0, position).view(sizes).sum(1);
    return {grad_x, torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor permute_rows(const torch::Tensor& t, const torch::Tensor& order,
                           const torch::Tensor& inverse) {
  TORCH_CHECK(order.dim() == 1 && inverse.sizes() == order.sizes() && order.numel() == t.size(0),
              "permute_rows: order and inverse must be permutations of the ", t.size(0), " rows");
  return PermuteRows::apply(t, order, inverse);
}

torch::Tensor gather_to_slots(const torch::Tensor& x, const torch::Tensor& token_of_slot,
                              const torch::Tensor& position) {
  const int64_t n = x.size(0), slots = token_of_slot.numel();
  TORCH_CHECK(token_of_slot.dim() == 1 && position.sizes() == token_of_slot.sizes() &&
                  (n == 0 ? slots == 0 : slots % n == 0),
              "gather_to_slots: ", slots, " slots for ", n, " tokens (need k slots per token)");
  return GatherToSlots::apply(x, token_of_slot, position);
}

}  // namespace dreamer::models
