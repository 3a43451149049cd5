// dreamer doctor: what this build runs on.
#include <sqlite3.h>
#include <torch/torch.h>

#include <fstream>
#include <iostream>
#include <set>

#include "cli/commands.h"
#include "models/blocks/attention_core.h"
#include "train/distributed.h"
#include "util/cuda_kernels.h"

#ifdef DREAMER_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#endif

namespace dreamer::cli {

namespace {

// The BLAS libraries actually mapped into this process (after a matmul has run), which is
// what matters on Debian, where the alternatives system picks the implementation.
std::set<std::string> loaded_blas() {
  auto a = torch::randn({64, 64});
  (void)torch::matmul(a, a).sum().item<float>();
  std::set<std::string> libs;
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    auto slash = line.find('/');
    if (slash == std::string::npos) continue;
    std::string path = line.substr(slash);
    if (path.find("blas") != std::string::npos || path.find("mkl") != std::string::npos)
      libs.insert(path);
  }
  return libs;
}

}  // namespace

void add_doctor_command(CLI::App& app) {
  auto* cmd =
      app.add_subcommand("doctor", "print LibTorch, CUDA, threads, BLAS and SQLite versions");
  cmd->callback([] {
    std::cout << "libtorch:        " << TORCH_VERSION_MAJOR << "." << TORCH_VERSION_MINOR << "."
              << TORCH_VERSION_PATCH << "\n";
    std::cout << "fused attention: "
              << (models::fused_attention_available() ? "at::scaled_dot_product_attention"
                                                      : "reference fallback (LibTorch < 2.0)")
              << "\n";
    // The project's own kernels (CMake's DREAMER_CUDA_KERNELS, with a CUDA LibTorch and nvcc).
    std::cout << "cuda kernels:    "
              << (cuda_kernels_compiled() ? "fused RoPE, SwiGLU, cross-entropy"
                                          : "not built (LibTorch fallbacks)")
              << "\n";
    const bool cuda = torch::cuda::is_available();
    std::cout << "cuda:            " << (cuda ? "available" : "not available");
    if (cuda) std::cout << ", " << torch::cuda::device_count() << " device(s)";
    std::cout << "\n";
#ifdef DREAMER_WITH_CUDA
    for (int64_t i = 0; cuda && i < static_cast<int64_t>(torch::cuda::device_count()); ++i)
      std::cout << "  device " << i << ":      " << at::cuda::getDeviceProperties(i)->name << "\n";
#endif
    std::cout << "threads:         " << torch::get_num_threads() << " intra-op\n";
    auto blas = loaded_blas();
    std::cout << "blas:            " << (blas.empty() ? "(none mapped)" : "");
    bool first = true;
    for (const auto& lib : blas) {
      std::cout << (first ? "" : "\n                 ") << lib;
      first = false;
    }
    std::cout << "\n";
    std::cout << "sqlite:          " << sqlite3_libversion() << "\n";
    std::string backends;
    for (const auto& b : train::available_backends())
      backends += (backends.empty() ? "" : ", ") + b;
    std::cout << "distributed:     "
              << (backends.empty() ? "none (single process only; docs/DISTRIBUTED.md)" : backends)
              << "\n";
  });
}

}  // namespace dreamer::cli
