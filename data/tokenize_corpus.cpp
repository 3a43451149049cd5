#include "data/tokenize_corpus.h"

#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <sstream>

#include "data/corpus_readers.h"
#include "data/shards.h"
#include "eval/sha256.h"
#include "train/progress.h"
#include "util/errors.h"
#include "util/fs.h"

namespace dreamer::data {

namespace {

std::string file_sha256(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return eval::sha256_hex(bytes.str());
}

double file_bytes(const std::string& path) {
  struct stat info {};
  return stat(path.c_str(), &info) == 0 ? static_cast<double>(info.st_size) : 0.0;
}

// One split's shards: a new file once the current one passes shard_tokens.
class SplitWriter {
 public:
  SplitWriter(std::string dir, std::string split, int dtype, int64_t shard_tokens)
      : dir_(std::move(dir)),
        split_(std::move(split)),
        dtype_(dtype),
        shard_tokens_(shard_tokens) {}
  void add(const std::vector<int64_t>& tokens) {
    if (!writer_) open();
    writer_->append(tokens);
    ++documents_;
    if (writer_->tokens() >= shard_tokens_) close_shard();
  }
  nlohmann::json finish() {
    close_shard();
    int64_t tokens = 0;
    for (const auto& s : shards_) tokens += s["tokens"].get<int64_t>();
    return {{"documents", documents_}, {"tokens", tokens}, {"shards", shards_}};
  }

 private:
  void open() {
    char name[64];
    std::snprintf(name, sizeof name, "%s_%06zu.bin", split_.c_str(), shards_.size());
    file_ = name;
    writer_ = std::make_unique<ShardWriter>(fs::join(dir_, file_), dtype_);
  }
  void close_shard() {
    if (!writer_) return;
    writer_->close();
    shards_.push_back({{"file", file_}, {"tokens", writer_->tokens()}});
    writer_.reset();
  }
  std::string dir_, split_, file_;
  int dtype_;
  int64_t shard_tokens_, documents_ = 0;
  std::unique_ptr<ShardWriter> writer_;
  nlohmann::json shards_ = nlohmann::json::array();
};

}  // namespace

nlohmann::json tokenize_corpus(const TokenizeOptions& options, const Tokenizer& tokenizer,
                               std::ostream* progress) {
  if (options.inputs.empty()) throw InputError("--input", "expected at least one corpus file");
  if (!(options.heldout_fraction >= 0 && options.heldout_fraction < 1))
    throw InputError("--heldout", "expected a fraction in [0, 1)");
  if (options.shard_tokens < 1) throw InputError("--shard-tokens", "must be >= 1");
  const std::vector<std::pair<std::string, TextSplit>> splits = {
      {"file", TextSplit::kFile}, {"paragraph", TextSplit::kParagraph}, {"line", TextSplit::kLine}};
  TextSplit text_split = TextSplit::kParagraph;
  bool split_known = false;
  for (const auto& [name, value] : splits)
    if (name == options.text_split) text_split = value, split_known = true;
  if (!split_known)
    throw InputError("--split",
                     "expected file, paragraph or line, got \"" + options.text_split + "\"");
  double total_bytes = 0;
  for (const auto& input : options.inputs) {
    if (!fs::exists(input) || fs::is_directory(input))
      throw InputError(input, "cannot read corpus file");
    if (fs::extension(input) == ".jsonl" && options.template_text.empty())
      throw InputError(input, "a JSONL corpus needs --template (which fields make a document)");
    total_bytes += file_bytes(input);
  }
  fs::create_directories(options.out_dir);
  const int dtype = shard_dtype_bytes(tokenizer.vocab_size());
  SplitWriter train(options.out_dir, "train", dtype, options.shard_tokens);
  SplitWriter heldout(options.out_dir, "heldout", dtype, options.shard_tokens);
  std::ofstream heldout_text(fs::join(options.out_dir, "heldout.jsonl"));
  if (!heldout_text) throw InputError(options.out_dir, "cannot write heldout.jsonl");

  nlohmann::json sources = nlohmann::json::array();
  const auto start = std::chrono::steady_clock::now();
  auto last_report = start;
  double done_bytes = 0;
  int64_t documents = 0, tokens = 0;
  for (const auto& input : options.inputs) {
    const auto docs =
        fs::extension(input) == ".jsonl"
            ? read_jsonl_documents(input, FieldTemplate::parse(options.template_text, "--template"))
            : read_text_documents(input, text_split);
    const double bytes = file_bytes(input);
    for (size_t i = 0; i < docs.size(); ++i) {
      auto ids = tokenizer.encode(docs[i]);
      ids.push_back(tokenizer.eos_id());
      tokens += static_cast<int64_t>(ids.size());
      ++documents;
      if (is_heldout(docs[i], options.heldout_fraction)) {
        heldout.add(ids);
        heldout_text << nlohmann::json{{"text", docs[i]}}.dump() << "\n";
      } else {
        train.add(ids);
      }
      const auto now = std::chrono::steady_clock::now();
      if (progress && now - last_report > std::chrono::seconds(2)) {
        last_report = now;
        const double seen = done_bytes + bytes * static_cast<double>(i + 1) / docs.size();
        const double elapsed = std::chrono::duration<double>(now - start).count();
        *progress << "tokenize: " << fs::filename(input) << " " << documents << " documents, "
                  << tokens << " tokens, " << static_cast<int>(100 * seen / total_bytes)
                  << "% of the input, ETA "
                  << train::format_duration(elapsed * (total_bytes - seen) / seen) << "\n";
      }
    }
    done_bytes += bytes;
    sources.push_back({{"path", input},
                       {"bytes", bytes},
                       {"sha256", file_sha256(input)},
                       {"documents", docs.size()}});
  }
  heldout_text.close();
  nlohmann::json manifest = {
      {"format", "dreamer-shards"},
      {"version", 1},
      {"tokenizer", tokenizer.to_json()},
      {"tokenizer_hash", shard_tokenizer_hash(tokenizer)},
      {"dtype", dtype == 2 ? "uint16" : "uint32"},
      {"template", options.template_text},
      {"text_split", options.text_split},
      {"heldout_fraction", options.heldout_fraction},
      {"heldout_rule", "FNV-1a 64 of the document text mod 1e6 < fraction * 1e6"},
      {"sources", sources},
      {"splits", {{"train", train.finish()}, {"heldout", heldout.finish()}}}};
  std::ofstream out(fs::join(options.out_dir, "manifest.json"));
  out << manifest.dump(2) << "\n";
  if (!out) throw InputError(options.out_dir, "cannot write manifest.json");
  if (progress)
    *progress
        << "tokenize: " << documents << " documents, " << tokens << " tokens in "
        << train::format_duration(
               std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count())
        << "\n";
  return manifest;
}

}  // namespace dreamer::data
