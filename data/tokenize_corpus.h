#pragma once
// `dreamer tokenize`: a corpus (JSONL rows through a field template, or plain text) tokenised
// once into shards (data/shards.h), split into train and held-out by document hash, with a
// manifest and progress (with ETA) on a stream.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "data/tokenizer.h"

namespace dreamer::data {

struct TokenizeOptions {
  std::vector<std::string> inputs;       // .jsonl files (need template_text) or plain text files
  std::string template_text;             // FieldTemplate for JSONL rows
  std::string text_split = "paragraph";  // plain text documents: file, paragraph or line
  std::string out_dir;
  double heldout_fraction = 0.01;
  int64_t shard_tokens = 100'000'000;  // a shard is closed at the first document end past this
};

// Writes out_dir/{train,heldout}_NNNNNN.bin, out_dir/heldout.jsonl ({"text": document} per
// held-out document, for perplexity tasks) and out_dir/manifest.json; returns the manifest.
// Every document is its tokens followed by the tokenizer's eos_id, as in data/packed_stream.h.
nlohmann::json tokenize_corpus(const TokenizeOptions& options, const Tokenizer& tokenizer,
                               std::ostream* progress);

}  // namespace dreamer::data
