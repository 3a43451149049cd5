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
// The same rotation from precomputed cos/sin [P, Dh/2] in x's dtype.
torch::Tensor apply_rope_cos_sin(const torch::Tensor& x, const torch::Tensor& cos,
                                 const torch::Tensor& sin);

// apply_rope_cos_sin on q [B, Hq, T, Dh] and on k [B, Hkv, T, Dh] (views of any strides, such
// as the transposed projections) with cos/sin [T, Dh/2] (any floating dtype; treated as
// constants). Differentiable: its backward is the inverse rotation of the incoming gradients.
// On CUDA, where the project's kernels are compiled in (util/cuda_kernels.h), forward and
// backward are each one fused kernel (math in float32, outputs contiguous in q's and k's
// dtypes; pass cos/sin in float32 to skip a cast); elsewhere each rotation is
// apply_rope_cos_sin with cos/sin cast to the tensor's dtype.
std::pair<torch::Tensor, torch::Tensor> apply_rope_qk(const torch::Tensor& q,
                                                      const torch::Tensor& k,
                                                      const torch::Tensor& cos,
                                                      const torch::Tensor& sin);
// The dtype in which to fetch cos/sin rows for apply_rope_qk on q: float32 where the fused
// kernel runs, else q's dtype (what apply_rope_cos_sin takes, so no cast per call).
torch::ScalarType rope_qk_rows_dtype(const torch::Tensor& q);

// cos/sin of rope_angles over positions 0..P-1, computed once (in float64, as apply_rope does)
// and reused by every call with the same head_dim/base: a recurrent layer applied R times per
// forward, and every training step of one shape, build them once. Not thread-safe (see
// shared_rope_rows).
class RopeTable {
 public:
  RopeTable(int64_t head_dim, double base) : head_dim_(head_dim), base_(base) {}
  // cos, sin [n, Dh/2] for positions start..start+n-1 on `device` in `dtype`.
  std::pair<torch::Tensor, torch::Tensor> rows(int64_t start, int64_t n,
                                               const torch::Device& device,
                                               torch::ScalarType dtype);
  // cos, sin [P, Dh/2] in `dtype` at the positions [P] held on the device (static decoding),
  // gathered from the whole table, which covers at least `table_size` positions.
  std::pair<torch::Tensor, torch::Tensor> rows_at(const torch::Tensor& positions,
                                                  int64_t table_size, torch::ScalarType dtype);

 private:
  // Makes the float64 table cover positions 0..needed-1 on `device`.
  void cover(int64_t needed, const torch::Device& device);

  int64_t head_dim_;
  double base_;
  torch::Tensor cos64_, sin64_;        // [P, Dh/2] float64, positions 0..P-1
  torch::Tensor cast_cos_, cast_sin_;  // the whole table in rows_at's dtype
  // The last rows handed out, already cast (the common case: one shape every call).
  int64_t last_start_ = -1, last_n_ = -1;
  torch::Tensor last_cos_, last_sin_;
};

// RopeTable::rows of one process-wide table per (head_dim, base), behind a mutex: every
// attention module with that geometry (all layers, all depths) shares it.
std::pair<torch::Tensor, torch::Tensor> shared_rope_rows(int64_t head_dim, double base,
                                                         int64_t start, int64_t n,
                                                         const torch::Device& device,
                                                         torch::ScalarType dtype);

// Static decoding (models/static_decode.h): RopeTable::rows_at of the same process-wide table.
// The table is built (or grown) and cast outside a CUDA graph capture by the eager warm-up
// steps, so a captured step only gathers.
std::pair<torch::Tensor, torch::Tensor> shared_rope_rows_at(int64_t head_dim, double base,
                                                            const torch::Tensor& positions,
                                                            int64_t table_size,
                                                            torch::ScalarType dtype);

}  // namespace dreamer::models
