#include <stdexcept>

#include "data/synthetic.h"

namespace dreamer::data {

namespace {

std::string random_number(std::mt19937_64& rng, int digits) {
  std::uniform_int_distribution<int> first(digits == 1 ? 0 : 1, 9), rest(0, 9);
  std::string s(1, static_cast<char>('0' + first(rng)));
  for (int i = 1; i < digits; ++i) s.push_back(static_cast<char>('0' + rest(rng)));
  return s;
}

}  // namespace

Example multi_digit_addition(std::mt19937_64& rng, int steps) {
  if (steps < 1) throw std::invalid_argument("multi_digit_addition: steps (digits) must be >= 1");
  const std::string a = random_number(rng, steps), b = random_number(rng, steps);
  // Schoolbook addition on the digit strings: numbers may exceed any machine integer.
  std::string sum;
  int carry = 0;
  for (int i = steps - 1; i >= 0; --i) {
    const int d = (a[i] - '0') + (b[i] - '0') + carry;
    sum.insert(sum.begin(), static_cast<char>('0' + d % 10));
    carry = d / 10;
  }
  if (carry) sum.insert(sum.begin(), '1');
  return {a + "+" + b + "=", sum, steps};
}

}  // namespace dreamer::data
