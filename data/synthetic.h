#pragma once
// Synthetic latent-reasoning tasks generated in-process: the embedded default data for the
// quickstart and the CPU tests. Each task has a difficulty knob (number of reasoning steps).
#include <cstdint>
#include <random>
#include <string>

namespace dreamer::data {

struct Example {
  std::string prompt;  // e.g. "3+4*2-7=" (mod 10)
  std::string answer;  // e.g. "7"
};

// Multi-step modular arithmetic: `steps` operations applied left to right modulo `modulus`
// (a modulus <= 10 keeps every number one digit). The answer needs every step.
Example modular_arithmetic(std::mt19937_64& rng, int steps, int modulus = 10);

}  // namespace dreamer::data
