#pragma once
// `dreamer tokenizer train`: the corpus side of training a SentencePiece tokenizer. SentencePiece
// trains on lines of a text file, so JSONL rows are first rendered through a field template
// (data/corpus_readers.h) and every document's lines written out; the training itself is
// SentencePiece's (data/sentencepiece_tokenizer.h).
#include <cstdint>
#include <string>

#include "data/sentencepiece_tokenizer.h"

namespace dreamer::data {

struct TokenizerCorpus {
  std::string input;          // a .jsonl file (needs template_text) or plain text
  std::string template_text;  // FieldTemplate text for JSONL rows, e.g. "{question}\n{answer}"
  int64_t max_documents = 0;  // use only the first N documents (0: all)
};

// Writes the corpus's documents, one non-blank line per training sentence, to `text_file`.
// Returns the number of documents written. Bad input is an InputError naming the file (and
// line) or the flag.
int64_t write_training_text(const TokenizerCorpus& corpus, const std::string& text_file);

// Renders the corpus into a temporary text file next to `model_prefix`, trains, removes the
// temporary file; returns the .model path.
std::string train_tokenizer(const TokenizerCorpus& corpus, const std::string& model_prefix,
                            const SentencePieceTrainOptions& options, int64_t* documents = nullptr);

}  // namespace dreamer::data
