#pragma once
// Counter-based seeding: every random choice in the data pipeline is derived from (seed, index)
// rather than from a running generator, so any document or example can be regenerated on its
// own. That is what makes streams seekable and splits reproducible.
#include <cstdint>
#include <string>

namespace dreamer::data {

// SplitMix64 finaliser: a bijective, well-mixed 64-bit hash.
inline uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Combines a seed with a stream index/tag; order matters (mix(a, b) != mix(b, a)).
inline uint64_t mix_seed(uint64_t seed, uint64_t index) {
  return splitmix64(splitmix64(seed) ^ (index + 0x632BE59BD9B4E019ull));
}

// FNV-1a 64 of a byte string: stable across platforms and library versions (std::hash is not).
inline uint64_t fnv1a64(const std::string& bytes) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (unsigned char c : bytes) h = (h ^ c) * 0x100000001B3ull;
  return h;
}

}  // namespace dreamer::data
