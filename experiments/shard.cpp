#include "experiments/shard.h"

#include <cctype>

#include "util/errors.h"

namespace dreamer::experiments {

namespace {
// A non-negative decimal integer of at most 9 digits, the whole string.
bool parse_count(const std::string& text, int64_t& out) {
  if (text.empty() || text.size() > 9) return false;
  for (const char c : text)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  out = std::stoll(text);
  return true;
}
}  // namespace

Shard parse_shard(const std::string& text, const std::string& where) {
  const auto slash = text.find('/');
  Shard shard;
  const bool ok = slash != std::string::npos && parse_count(text.substr(0, slash), shard.index) &&
                  parse_count(text.substr(slash + 1), shard.count);
  require(ok, where, "expected i/n (shard i of n, 0 <= i < n), got \"" + text + "\"");
  require(shard.count >= 1, where, "the number of shards must be at least 1, got \"" + text + "\"");
  require(shard.index < shard.count, where,
          "shard " + std::to_string(shard.index) + " of " + std::to_string(shard.count) +
              " does not exist: shards are numbered 0 to " + std::to_string(shard.count - 1) +
              " (SLURM_ARRAY_TASK_ID with --array=0-" + std::to_string(shard.count - 1) + ")");
  return shard;
}

}  // namespace dreamer::experiments
