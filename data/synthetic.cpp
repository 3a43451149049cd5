#include "data/synthetic.h"

#include <stdexcept>

namespace dreamer::data {

Example modular_arithmetic(std::mt19937_64& rng, int steps, int modulus) {
  if (steps < 1) throw std::invalid_argument("modular_arithmetic: steps must be >= 1");
  if (modulus < 2 || modulus > 10)
    throw std::invalid_argument("modular_arithmetic: modulus must be in [2, 10]");
  std::uniform_int_distribution<int> digit(0, modulus - 1), op(0, 2);
  int value = digit(rng);
  std::string prompt = std::to_string(value);
  for (int i = 0; i < steps; ++i) {
    const int operand = digit(rng);
    switch (op(rng)) {
      case 0:
        value = (value + operand) % modulus;
        prompt += "+";
        break;
      case 1:
        value = ((value - operand) % modulus + modulus) % modulus;
        prompt += "-";
        break;
      default:
        value = (value * operand) % modulus;
        prompt += "*";
        break;
    }
    prompt += std::to_string(operand);
  }
  return {prompt + "=", std::to_string(value), steps};
}

}  // namespace dreamer::data
