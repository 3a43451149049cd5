#include "util/memory_probe.h"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <torch/version.h>

#include <atomic>

namespace dreamer {

namespace {

// LibTorch 2.3 made Allocator::allocate non-const and added a pure copy_data().
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 3)
#define DREAMER_ALLOCATE_CONST
#define DREAMER_ALLOCATOR_HAS_COPY_DATA 1
#else
#define DREAMER_ALLOCATE_CONST const
#define DREAMER_ALLOCATOR_HAS_COPY_DATA 0
#endif

std::atomic<int64_t> g_live{0}, g_peak{0}, g_count{0};

// The wrapped allocation: frees the inner one and un-counts its size.
struct Tracked {
  c10::DataPtr inner;
  int64_t bytes;
};

void delete_tracked(void* ctx) {
  auto* t = static_cast<Tracked*>(ctx);
  g_live.fetch_sub(t->bytes, std::memory_order_relaxed);
  delete t;  // releases the inner DataPtr
}

class CountingAllocator final : public c10::Allocator {
 public:
  explicit CountingAllocator(c10::Allocator* inner) : inner_(inner) {}

  c10::DataPtr allocate(size_t n) DREAMER_ALLOCATE_CONST override {
    c10::DataPtr inner = inner_->allocate(n);
    void* data = inner.get();
    const c10::Device device = inner.device();
    auto* t = new Tracked{std::move(inner), static_cast<int64_t>(n)};
    const int64_t live = g_live.fetch_add(t->bytes, std::memory_order_relaxed) + t->bytes;
    g_count.fetch_add(1, std::memory_order_relaxed);
    int64_t peak = g_peak.load(std::memory_order_relaxed);
    while (live > peak && !g_peak.compare_exchange_weak(peak, live, std::memory_order_relaxed)) {
    }
    return {data, t, &delete_tracked, device};
  }
  c10::DeleterFnPtr raw_deleter() const override { return nullptr; }  // needs its context
#if DREAMER_ALLOCATOR_HAS_COPY_DATA
  void copy_data(void* dest, const void* src, std::size_t count) const override {
    default_copy_data(dest, src, count);
  }
#endif

 private:
  c10::Allocator* inner_;
};

CountingAllocator*& installed() {
  static CountingAllocator* allocator = nullptr;  // never destroyed: tensors may outlive main
  return allocator;
}

}  // namespace

void install_cpu_memory_probe() {
  if (installed()) return;
  installed() = new CountingAllocator(c10::GetDefaultCPUAllocator());
  c10::SetCPUAllocator(installed(), /*priority=*/100);
}

bool cpu_memory_probe_installed() {
  return installed() != nullptr;
}

CpuMemoryStats cpu_memory_stats() {
  return {g_live.load(), g_peak.load(), g_count.load()};
}

void reset_cpu_peak() {
  g_peak.store(g_live.load());
}

}  // namespace dreamer
