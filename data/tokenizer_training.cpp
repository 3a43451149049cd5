#include "data/tokenizer_training.h"

#include <unistd.h>

#include <fstream>
#include <sstream>

#include "data/corpus_readers.h"
#include "util/errors.h"
#include "util/fs.h"

namespace dreamer::data {

int64_t write_training_text(const TokenizerCorpus& corpus, const std::string& text_file) {
  if (corpus.max_documents < 0)
    throw InputError("--max-documents",
                     "must be >= 0, got " + std::to_string(corpus.max_documents));
  const bool jsonl = fs::extension(corpus.input) == ".jsonl";
  if (jsonl && corpus.template_text.empty())
    throw InputError(corpus.input,
                     "a JSONL corpus needs --template (which fields make a document, e.g. "
                     "\"{question} {answer}\")");
  if (!jsonl && !corpus.template_text.empty())
    throw InputError("--template", "applies to .jsonl corpora only; \"" + corpus.input +
                                       "\" is read as plain text");
  // Plain text keeps its own lines; SentencePiece never sees newlines either way.
  const auto documents =
      jsonl ? read_jsonl_documents(corpus.input,
                                   FieldTemplate::parse(corpus.template_text, "--template"))
            : read_text_documents(corpus.input, TextSplit::kLine);
  std::ofstream out(text_file);
  if (!out) throw InputError(text_file, "cannot write the tokenizer's training text");
  int64_t written = 0;
  for (const auto& document : documents) {
    if (corpus.max_documents > 0 && written == corpus.max_documents) break;
    std::istringstream lines(document);
    std::string line;
    while (std::getline(lines, line))
      if (line.find_first_not_of(" \t\r") != std::string::npos) out << line << "\n";
    ++written;
  }
  out.close();
  if (!out) throw InputError(text_file, "write failed");
  return written;
}

std::string train_tokenizer(const TokenizerCorpus& corpus, const std::string& model_prefix,
                            const SentencePieceTrainOptions& options, int64_t* documents) {
  const std::string text_file = model_prefix + ".training-text." + std::to_string(getpid());
  struct Remove {
    std::string path;
    ~Remove() { unlink(path.c_str()); }
  } remove{text_file};
  const int64_t n = write_training_text(corpus, text_file);
  if (documents) *documents = n;
  return train_sentencepiece({text_file}, model_prefix, options);
}

}  // namespace dreamer::data
