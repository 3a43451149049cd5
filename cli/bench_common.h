#pragma once
// What the bench-* commands share: waiting for the device before reading a clock, the
// --precision flag, and printing (and with --out appending) their one JSON line.
#include <c10/core/Device.h>
#include <nlohmann/json.hpp>

#include <string>

namespace dreamer::cli {

// Waits for the device's queued work (CUDA); a no-op on the CPU.
void synchronize(const c10::Device& device);

// --precision auto|fp32|bf16: whether the step runs under bf16 autocast (auto: on CUDA only).
// bf16 off CUDA, or another value, is an error naming the flag.
bool use_bf16(const std::string& precision, const c10::Device& device);

// Prints `result` as one line; with a non-empty `out`, also appends it there (an error naming
// the file when that fails).
void emit(const nlohmann::json& result, const std::string& out);

}  // namespace dreamer::cli
