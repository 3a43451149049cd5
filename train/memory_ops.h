#pragma once
// The memory model's op terms against single ops (dreamer bench-memory --ops, its test): each op
// kind the families are built from runs alone on the chosen device and precision, on inputs that
// already exist (as a block's inputs do), with its output held; the allocator's live bytes after
// the forward minus before ("measured") against what the ledger (models/memory.h) charges for
// the same op plus its output ("predicted"). Forward and backward transients are reported too.
// This separates the saved sets of LibTorch versions and devices op by op (docs/MATCHING.md,
// "Memory model").
#include <c10/core/Device.h>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace dreamer::train {

struct OpProbeOptions {
  int64_t batch = 4, seq = 1024;
  int64_t d_model = 256, heads = 4, ffn_hidden = 1024;
  int64_t experts = 64, k = 8, expert_dim = 128;
  int64_t vocab = 32000;
  bool bf16 = false;  // CUDA autocast
};

struct OpMemory {
  std::string op;             // e.g. "rmsnorm", "sdpa:flash"
  double measured = 0;        // live after forward (output held) minus before
  double predicted = 0;       // the ledger's charge for the op + its output
  double output = 0;          // the held output's bytes (part of both)
  double forward_peak = 0;    // peak during forward minus before
  double backward_peak = 0;   // peak during backward minus live before it
  double predicted_peak = 0;  // the ledger's transient where it has one (the loss), else 0
  std::string note;           // why an op was skipped, or what ran
};

// Runs every op kind available on `device` (an op that throws is reported with its note).
std::vector<OpMemory> measure_op_memory(const c10::Device& device, const OpProbeOptions& options);

nlohmann::json op_memory_json(const OpMemory& m);
// "MEMOP <op> measured <bytes> predicted <bytes> ratio <m/p> fwd_peak <b> bwd_peak <b>"
std::string op_memory_line(const OpMemory& m);

}  // namespace dreamer::train
