#include "data/shards.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <torch/torch.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "eval/sha256.h"
#include "util/errors.h"
#include "util/fs.h"
#include "util/json_reader.h"

namespace dreamer::data {

namespace {

constexpr char kMagic[8] = {'D', 'R', 'M', 'S', 'H', 'A', 'R', 'D'};
constexpr uint32_t kVersion = 1;

std::string system_error(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

}  // namespace

int shard_dtype_bytes(int64_t vocab_size) {
  return vocab_size <= 65536 ? 2 : 4;
}

bool is_heldout(const std::string& document, double heldout_fraction) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a 64
  for (const unsigned char c : document) h = (h ^ c) * 1099511628211ull;
  return static_cast<double>(h % 1000000) < heldout_fraction * 1000000.0;
}

ShardWriter::ShardWriter(std::string path, int dtype_bytes)
    : path_(std::move(path)), dtype_bytes_(dtype_bytes) {
  if (dtype_bytes_ != 2 && dtype_bytes_ != 4)
    throw std::invalid_argument("ShardWriter: dtype must be 2 or 4 bytes");
  file_ = std::fopen(path_.c_str(), "wb");
  if (!file_) throw InputError(path_, system_error("cannot create shard"));
  const char zeros[kShardHeaderBytes] = {};
  std::fwrite(zeros, 1, kShardHeaderBytes, file_);  // the real header is written by close()
}

ShardWriter::~ShardWriter() {
  if (file_) std::fclose(file_);
}

void ShardWriter::append(const std::vector<int64_t>& tokens) {
  const int64_t limit = dtype_bytes_ == 2 ? 65535 : 4294967295LL;
  for (const auto t : tokens) {
    if (t < 0 || t > limit)
      throw std::out_of_range("token id " + std::to_string(t) + " does not fit the shard dtype");
    if (dtype_bytes_ == 2) {
      const uint16_t v = static_cast<uint16_t>(t);
      std::fwrite(&v, 2, 1, file_);
    } else {
      const uint32_t v = static_cast<uint32_t>(t);
      std::fwrite(&v, 4, 1, file_);
    }
  }
  tokens_ += static_cast<int64_t>(tokens.size());
}

void ShardWriter::close() {
  if (!file_) return;
  unsigned char header[kShardHeaderBytes] = {};
  std::memcpy(header, kMagic, 8);
  const uint32_t version = kVersion, dtype = static_cast<uint32_t>(dtype_bytes_);
  const uint64_t count = static_cast<uint64_t>(tokens_);
  std::memcpy(header + 8, &version, 4);  // little-endian hosts only (x86-64, aarch64)
  std::memcpy(header + 12, &dtype, 4);
  std::memcpy(header + 16, &count, 8);
  const bool ok = std::fseek(file_, 0, SEEK_SET) == 0 &&
                  std::fwrite(header, 1, kShardHeaderBytes, file_) == kShardHeaderBytes;
  const bool closed = std::fclose(file_) == 0;
  file_ = nullptr;
  if (!ok || !closed) throw InputError(path_, system_error("cannot write shard"));
}

MappedShard::MappedShard(const std::string& path) : path_(path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw InputError(path, system_error("cannot open shard"));
  struct stat info {};
  fstat(fd, &info);
  const auto bytes = static_cast<size_t>(info.st_size);
  if (bytes < static_cast<size_t>(kShardHeaderBytes)) {
    ::close(fd);
    throw InputError(path, "truncated shard: " + std::to_string(bytes) +
                               " bytes, shorter than the " + std::to_string(kShardHeaderBytes) +
                               "-byte header");
  }
  map_ = mmap(nullptr, bytes, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  if (map_ == MAP_FAILED) {
    map_ = nullptr;
    throw InputError(path, system_error("cannot mmap shard"));
  }
  map_bytes_ = bytes;
  const auto* header = static_cast<const unsigned char*>(map_);
  uint32_t version = 0, dtype = 0;
  uint64_t count = 0;
  std::memcpy(&version, header + 8, 4);
  std::memcpy(&dtype, header + 12, 4);
  std::memcpy(&count, header + 16, 8);
  std::string problem;
  if (std::memcmp(header, kMagic, 8) != 0)
    problem = "not a token shard (expected the magic \"DRMSHARD\" in its first 8 bytes)";
  else if (version != kVersion)
    problem = "shard version " + std::to_string(version) + ", this build reads version " +
              std::to_string(kVersion);
  else if (dtype != 2 && dtype != 4)
    problem = "bytes per token is " + std::to_string(dtype) + ", expected 2 (uint16) or 4 (uint32)";
  else if (bytes != kShardHeaderBytes + count * dtype)
    problem = "the header counts " + std::to_string(count) + " tokens (" +
              std::to_string(kShardHeaderBytes + count * dtype) +
              " bytes with the header) but the file has " + std::to_string(bytes) +
              " bytes (truncated or corrupt)";
  if (!problem.empty()) {
    munmap(map_, map_bytes_);
    map_ = nullptr;
    throw InputError(path, problem);
  }
  dtype_bytes_ = static_cast<int>(dtype);
  tokens_ = static_cast<int64_t>(count);
  madvise(map_, map_bytes_, MADV_SEQUENTIAL);  // training reads it front to back
}

MappedShard::~MappedShard() {
  if (map_) munmap(map_, map_bytes_);
}

int64_t MappedShard::token(int64_t i) const {
  const auto* data = static_cast<const unsigned char*>(map_) + kShardHeaderBytes;
  if (dtype_bytes_ == 2) {
    uint16_t v;
    std::memcpy(&v, data + 2 * i, 2);
    return v;
  }
  uint32_t v;
  std::memcpy(&v, data + 4 * i, 4);
  return v;
}

namespace {

// What must agree between a manifest and the tokenizer that reads it: the spec without the
// model's path (a moved model with the same hash is the same tokenizer).
std::string tokenizer_identity(nlohmann::json spec) {
  spec.erase("model");
  return spec.dump();
}

nlohmann::json read_manifest(const std::string& manifest, const Tokenizer& tokenizer,
                             const std::string& where) {
  std::ifstream in(manifest);
  if (!in) throw InputError(where, "cannot read shard manifest \"" + manifest + "\"");
  nlohmann::json m;
  try {
    m = nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    throw InputError(manifest, std::string("not JSON: ") + e.what());
  }
  if (!m.is_object() || m.value("format", "") != "dreamer-shards")
    throw InputError(manifest,
                     "expected a shard manifest written by `dreamer tokenize` ({\"format\": "
                     "\"dreamer-shards\", ...})");
  const std::string recorded = m.contains("tokenizer") ? tokenizer_identity(m["tokenizer"]) : "";
  const std::string current = tokenizer_identity(tokenizer.to_json());
  if (recorded != current)
    throw InputError(manifest, "tokenized with " + recorded +
                                   ", but the experiment's tokenizer is " + current +
                                   " (tokenize again, or use that tokenizer)");
  if (!m.contains("splits") || !m["splits"].contains("train") ||
      !m["splits"]["train"].contains("shards"))
    throw InputError(manifest + ":$.splits.train.shards", "missing");
  return m;
}

}  // namespace

std::string shard_tokenizer_hash(const Tokenizer& tokenizer) {
  return eval::sha256_hex(tokenizer_identity(tokenizer.to_json()));
}

ShardStream::ShardStream(const std::string& manifest, const Tokenizer& tokenizer,
                         const std::string& where) {
  const auto m = read_manifest(manifest, tokenizer, where);
  const std::string dir = fs::parent_path(manifest);
  const auto& list = m["splits"]["train"]["shards"];
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string at = manifest + ":$.splits.train.shards[" + std::to_string(i) + "]";
    if (!list[i].contains("file") || !list[i].contains("tokens"))
      throw InputError(at, "expected {\"file\", \"tokens\"}");
    const std::string file = fs::join(dir, list[i]["file"].get<std::string>());
    auto shard = std::make_unique<MappedShard>(file);
    if (shard->size() != list[i]["tokens"].get<int64_t>())
      throw InputError(file, "holds " + std::to_string(shard->size()) +
                                 " tokens, the manifest records " +
                                 std::to_string(list[i]["tokens"].get<int64_t>()));
    if (shard->size() == 0) continue;
    starts_.push_back(total_);
    total_ += shard->size();
    shards_.push_back(std::move(shard));
  }
  if (total_ < 2) throw InputError(manifest, "the training split holds fewer than 2 tokens");
#ifdef DREAMER_WITH_CUDA
  pin_ = torch::cuda::is_available();  // pinned host memory makes the copy to the GPU asynchronous
#endif
  thread_ = std::thread([this] { prefetch_loop(); });
}

ShardStream::~ShardStream() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

int64_t ShardStream::token(int64_t offset) const {
  offset %= total_;
  const auto it = std::upper_bound(starts_.begin(), starts_.end(), offset) - 1;
  const size_t s = static_cast<size_t>(it - starts_.begin());
  return shards_[s]->token(offset - *it);
}

at::Tensor ShardStream::build(int64_t offset, int64_t batch_size, int64_t seq_len) const {
  auto tokens = torch::empty({batch_size, seq_len + 1}, torch::kLong);
  auto rows = tokens.accessor<int64_t, 2>();
  for (int64_t b = 0; b < batch_size; ++b)
    for (int64_t t = 0; t <= seq_len; ++t) rows[b][t] = token(offset + b * seq_len + t);
  return pin_ ? tokens.pin_memory() : tokens;
}

at::Tensor ShardStream::batch(int64_t offset, int64_t batch_size, int64_t seq_len) {
  at::Tensor out;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    // A pending request for exactly this batch: wait for it; anything else is dropped.
    if (want_ && want_offset_ == offset && want_batch_ == batch_size && want_len_ == seq_len) {
      ready_.wait(lock, [&] { return have_; });
      out = prefetched_;
    }
    want_ = false;
    have_ = false;
    prefetched_ = at::Tensor();
  }
  if (!out.defined()) out = build(offset, batch_size, seq_len);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    want_ = true;  // the batch a sequential reader asks for next
    want_offset_ = offset + batch_size * seq_len;
    want_batch_ = batch_size;
    want_len_ = seq_len;
  }
  wake_.notify_all();
  return out;
}

void ShardStream::prefetch_loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    wake_.wait(lock, [&] { return stop_ || (want_ && !have_ && !prefetched_.defined()); });
    if (stop_) return;
    const int64_t offset = want_offset_, b = want_batch_, t = want_len_;
    lock.unlock();
    auto built = build(offset, b, t);
    lock.lock();
    if (want_ && want_offset_ == offset && want_batch_ == b && want_len_ == t) {
      prefetched_ = std::move(built);
      have_ = true;
      ready_.notify_all();
    }
  }
}

bool is_shard_spec(const nlohmann::json& spec) {
  return spec.is_object() && spec.contains("type") && spec["type"] == "shards";
}

std::shared_ptr<ShardStream> open_shards(const nlohmann::json& spec, const Tokenizer& tokenizer,
                                         const std::string& where) {
  JsonReader reader(spec, where);
  std::string type, path;
  reader.get("type", type);
  if (!reader.has("path"))
    throw InputError(reader.path_of("path"),
                     "missing (the manifest.json `dreamer tokenize` wrote)");
  reader.get("path", path);
  reader.finish();
  return std::make_shared<ShardStream>(path, tokenizer, reader.path_of("path"));
}

}  // namespace dreamer::data
