#pragma once
// Rotary position embeddings, used along the sequence (positions) and along depth
// (recurrence indices, optionally forward + reversed).
#include <torch/torch.h>

namespace dreamer::models {

// Rotation angles [P, Dh/2] (float64) for integer positions [P] (any integer or float tensor).
torch::Tensor rope_angles(const torch::Tensor& positions, int64_t head_dim, double base);

// Depth angles [P, Dh/2]: the first Dh/4 pairs turn with the forward index `depth`, the
// other Dh/4 with the reversed index `total - depth` (distance to the last depth); both
// halves use the frequency ladder of a Dh/2-dimensional RoPE.
torch::Tensor depth_rope_angles_forward_reverse(const torch::Tensor& depths, int64_t total,
                                                int64_t head_dim, double base);

// Rotates x [..., P, Dh] by angles [P, Dh/2] (rotate-half pairing: i with i + Dh/2).
torch::Tensor apply_rope(const torch::Tensor& x, const torch::Tensor& angles);

}  // namespace dreamer::models
