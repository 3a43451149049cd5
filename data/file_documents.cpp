#include <algorithm>
#include <numeric>
#include <random>
#include <stdexcept>

#include "data/seeding.h"
#include "data/source.h"

namespace dreamer::data {

FileDocuments::FileDocuments(std::vector<std::string> documents, bool shuffle, nlohmann::json spec)
    : documents_(std::move(documents)), shuffle_(shuffle), spec_(std::move(spec)) {
  if (documents_.empty()) throw std::invalid_argument("FileDocuments: no documents");
}

std::string FileDocuments::document(uint64_t seed, uint64_t index) const {
  const uint64_t n = documents_.size(), epoch = index / n, position = index % n;
  if (!shuffle_) return documents_[position];
  // Each epoch is its own seeded permutation, a function of (n, seed, epoch) only; it is
  // rebuilt only when that key changes (streams read sequentially: once per epoch).
  // thread_local keeps the const method safe to call from several threads.
  thread_local uint64_t cached_seed = 0, cached_epoch = 0;
  thread_local std::vector<uint64_t> order;
  if (cached_seed != seed || cached_epoch != epoch || order.size() != n) {
    order.resize(n);
    std::iota(order.begin(), order.end(), 0);
    std::mt19937_64 rng(mix_seed(seed, epoch));
    std::shuffle(order.begin(), order.end(), rng);
    cached_seed = seed;
    cached_epoch = epoch;
  }
  return documents_[order[position]];
}

}  // namespace dreamer::data
