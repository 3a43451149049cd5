#pragma once
// CPython's `random.Random` for the two calls lm-eval's few-shot sampler makes: seeding with
// an integer and `sample(population, k)`. Same Mersenne Twister, same seeding (init_by_array
// over the seed's 32-bit words), same rejection sampling in `_randbelow` and the same choice
// between the pool and the set algorithm in `sample`, so a seed draws the very indices Python
// draws (lm-eval ContextSampler with random.Random(1234)).
#include <array>
#include <cstdint>
#include <vector>

namespace dreamer::eval {

class PythonRandom {
 public:
  explicit PythonRandom(uint64_t seed);  // random.Random(seed) for a non-negative integer seed
  uint32_t genrand_uint32();
  uint64_t getrandbits(int k);     // k in [1, 32] (all a population below 2^32 needs)
  uint64_t randbelow(uint64_t n);  // uniform in [0, n), n >= 1
  // Indices of random.sample(range(n), k), in the order Python returns the elements.
  std::vector<size_t> sample(size_t n, size_t k);

 private:
  static constexpr int kN = 624;
  void init_genrand(uint32_t s);
  void init_by_array(const std::vector<uint32_t>& key);
  std::array<uint32_t, kN> mt_{};
  int mti_ = kN + 1;
};

}  // namespace dreamer::eval
