// dreamer tokenizer train --input FILE --vocab-size N --out PREFIX: trains a SentencePiece
// tokenizer (BPE by default) on a corpus and writes PREFIX.model, which experiment files name
// as {"type": "sentencepiece", "model": "PREFIX.model"}.
#include <iostream>

#include "cli/commands.h"
#include "data/tokenizer_training.h"
#include "util/errors.h"

namespace dreamer::cli {

void add_tokenizer_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("tokenizer", "train SentencePiece tokenizers");
  cmd->require_subcommand(1);
  auto* train = cmd->add_subcommand("train", "train a SentencePiece model on a corpus");
  static data::TokenizerCorpus corpus;
  static data::SentencePieceTrainOptions options;
  static std::string out;
  train
      ->add_option("--input", corpus.input,
                   "corpus: .jsonl (with --template) or plain text, one sentence a line")
      ->required()
      ->check(CLI::ExistingFile);
  train->add_option("--template", corpus.template_text,
                    "JSONL field template, e.g. \"{question} {answer}\" (data/corpus_readers.h)");
  train->add_option("--vocab-size", options.vocab_size, "pieces in the model")->required();
  train->add_option("--out", out, "model prefix: writes PREFIX.model and PREFIX.vocab")->required();
  train->add_option("--model-type", options.model_type, "bpe or unigram")
      ->check(CLI::IsMember({"bpe", "unigram"}));
  train->add_option("--max-documents", corpus.max_documents,
                    "train on the first N documents (0: all)");
  train->add_option("--character-coverage", options.character_coverage,
                    "SentencePiece character_coverage");
  train->add_option("--seed", options.seed, "SentencePiece's random seed (unigram sampling)");
  train->add_option("--threads", options.num_threads, "SentencePiece trainer threads");
  train->callback([] {
    if (!data::sentencepiece_built())
      throw InputError(
          "tokenizer train",
          "this build has no SentencePiece (install libsentencepiece-dev and rebuild)");
    int64_t documents = 0;
    const std::string model = data::train_tokenizer(corpus, out, options, &documents);
    const data::SentencePieceTokenizer tokenizer(model);
    std::cout << "wrote " << model << ": " << tokenizer.vocab_size() << " pieces from " << documents
              << " documents of " << corpus.input << "\n"
              << "tokenizer spec: " << tokenizer.to_json().dump() << "\n";
  });
}

}  // namespace dreamer::cli
