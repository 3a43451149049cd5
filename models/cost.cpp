#include "models/cost.h"

namespace dreamer::models {

double sequence_attention_flops(double d, double h, double hkv, double dh, double t) {
  return 2 * d * h * dh + 4 * d * hkv * dh + 2 * h * dh * d  // q, k, v, o
         + 4 * t * h * dh;                                   // scores + mix over all T
}

}  // namespace dreamer::models
