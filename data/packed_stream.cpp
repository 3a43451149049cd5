#include "data/packed_stream.h"

#include <torch/torch.h>

#include "data/shards.h"
#include "util/json_reader.h"

namespace dreamer::data {

at::Tensor Batch::inputs() const {
  return tokens.narrow(1, 0, tokens.size(1) - 1);
}
at::Tensor Batch::targets() const {
  return tokens.narrow(1, 1, tokens.size(1) - 1);
}

nlohmann::json StreamPosition::to_json() const {
  return {{"token_offset", token_offset},
          {"document", document},
          {"per_source", per_source},
          {"token_in_document", token_in_document}};
}

StreamPosition StreamPosition::from_json(const nlohmann::json& j, const std::string& path) {
  JsonReader reader(j, path);
  StreamPosition p;
  int64_t document = 0;
  std::vector<int64_t> per_source;
  reader.get("token_offset", p.token_offset);
  reader.get("document", document);
  reader.get("per_source", per_source);
  reader.get("token_in_document", p.token_in_document);
  reader.finish();
  p.document = static_cast<uint64_t>(document);
  p.per_source.assign(per_source.begin(), per_source.end());
  return p;
}

PackedStream::PackedStream(std::shared_ptr<const Tokenizer> tokenizer, Mixture mixture,
                           uint64_t seed, int64_t seq_len)
    : tokenizer_(std::move(tokenizer)),
      mixture_(std::move(mixture)),
      seed_(seed),
      seq_len_(seq_len) {
  if (!tokenizer_) throw std::invalid_argument("PackedStream: null tokenizer");
  if (seq_len_ < 1) throw std::invalid_argument("PackedStream: seq_len must be >= 1");
  start();
}

namespace {
// A shard-backed stream has no documents; its mixture is never read.
struct NoDocuments : DocumentSource {
  std::string document(uint64_t, uint64_t) const override {
    throw std::logic_error("a shard-backed stream reads no documents");
  }
  nlohmann::json to_json() const override { return nullptr; }
};
}  // namespace

PackedStream::PackedStream(std::shared_ptr<ShardStream> shards, int64_t seq_len)
    : shards_(std::move(shards)),
      mixture_({MixtureComponent{1.0, std::make_shared<NoDocuments>()}}),
      seed_(0),
      seq_len_(seq_len) {
  if (!shards_) throw std::invalid_argument("PackedStream: null shard stream");
  if (seq_len_ < 1) throw std::invalid_argument("PackedStream: seq_len must be >= 1");
}

void PackedStream::start() {
  offset_ = 0;
  per_source_.assign(mixture_.size(), 0);
  load_document(0);
}

void PackedStream::load_document(uint64_t k) {
  document_ = k;
  source_of_current_ = mixture_.choose(seed_, k);
  const auto& component = mixture_.component(source_of_current_);
  const std::string text = component.source->document(
      Mixture::source_seed(seed_, source_of_current_), per_source_[source_of_current_]);
  current_ = tokenizer_->encode(text);
  current_.push_back(tokenizer_->eos_id());  // every document ends with EOS, so none is empty
  index_ = 0;
}

void PackedStream::advance_document() {
  ++per_source_[source_of_current_];
  load_document(document_ + 1);
}

int64_t PackedStream::peek() {
  if (index_ == static_cast<int64_t>(current_.size())) advance_document();
  return current_[index_];
}

std::vector<int64_t> PackedStream::take(int64_t n) {
  std::vector<int64_t> out;
  out.reserve(n);
  if (shards_) {
    for (int64_t i = 0; i < n; ++i) out.push_back(shards_->token(offset_ + i));
    offset_ += n;
    return out;
  }
  for (int64_t i = 0; i < n; ++i) {
    out.push_back(peek());
    ++index_;
    ++offset_;
  }
  return out;
}

Batch PackedStream::next_batch(int64_t batch_size) {
  if (batch_size < 1) throw std::invalid_argument("next_batch: batch_size must be >= 1");
  Batch batch;
  batch.token_offset = offset_;
  if (shards_) {
    batch.tokens = shards_->batch(offset_, batch_size, seq_len_);
    offset_ += batch_size * seq_len_;
    return batch;
  }
  batch.tokens = torch::empty({batch_size, seq_len_ + 1}, torch::kLong);
  auto rows = batch.tokens.accessor<int64_t, 2>();
  for (int64_t b = 0; b < batch_size; ++b) {
    const std::vector<int64_t> row = take(seq_len_);
    for (int64_t t = 0; t < seq_len_; ++t) rows[b][t] = row[t];
    rows[b][seq_len_] = peek();  // the last target is the next row's first input
  }
  return batch;
}

void PackedStream::seek(int64_t token_offset) {
  if (token_offset < 0) throw std::invalid_argument("seek: negative token offset");
  if (shards_) {
    offset_ = token_offset;  // batches are a function of the offset alone
    return;
  }
  start();
  // Skip whole documents, then step into the one holding the offset.
  while (offset_ + static_cast<int64_t>(current_.size()) - index_ <= token_offset) {
    offset_ += static_cast<int64_t>(current_.size()) - index_;
    index_ = static_cast<int64_t>(current_.size());
    advance_document();
  }
  index_ += token_offset - offset_;
  offset_ = token_offset;
}

StreamPosition PackedStream::position() const {
  return {offset_, document_, per_source_, index_};
}

void PackedStream::restore(const StreamPosition& p) {
  if (shards_) {
    if (p.token_offset < 0) throw InputError("stream position", "negative token offset");
    offset_ = p.token_offset;
    return;
  }
  if (p.per_source.size() != mixture_.size())
    throw InputError("stream position", "recorded for " + std::to_string(p.per_source.size()) +
                                            " sources, the mixture has " +
                                            std::to_string(mixture_.size()));
  per_source_ = p.per_source;
  load_document(p.document);
  if (p.token_in_document < 0 || p.token_in_document > static_cast<int64_t>(current_.size()))
    throw InputError("stream position",
                     "token_in_document is outside the document (different data or tokenizer?)");
  index_ = p.token_in_document;
  offset_ = p.token_offset;
}

}  // namespace dreamer::data
