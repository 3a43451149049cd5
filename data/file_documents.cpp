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
  std::lock_guard<std::mutex> lock(mutex_);
  if (order_.empty() || order_seed_ != seed || order_epoch_ != epoch) {
    order_.resize(n);
    std::iota(order_.begin(), order_.end(), 0);
    std::mt19937_64 rng(mix_seed(seed, epoch));
    std::shuffle(order_.begin(), order_.end(), rng);
    order_seed_ = seed;
    order_epoch_ = epoch;
  }
  return documents_[order_[position]];
}

}  // namespace dreamer::data
