// dreamer tokenize --input FILE... --out DIR [--template T] [--tokenizer-model M.model]:
// pre-tokenised training shards (data/shards.h) with a held-out split and a manifest; training
// then reads {"type": "shards", "path": "DIR/manifest.json"}.
#include <iostream>

#include "cli/commands.h"
#include "data/tokenize_corpus.h"
#include "data/tokenizer.h"

namespace dreamer::cli {

void add_tokenize_command(CLI::App& app) {
  auto* cmd =
      app.add_subcommand("tokenize", "tokenise a corpus once into memory-mapped training shards");
  static data::TokenizeOptions options;
  static std::string model;
  cmd->add_option("--input", options.inputs, "corpus files: .jsonl (with --template) or plain text")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--template", options.template_text,
                  "JSONL field template, e.g. \"{question}\\n{answer}\"");
  cmd->add_option("--split", options.text_split, "plain text documents: file, paragraph or line");
  cmd->add_option("--out", options.out_dir, "output folder (shards, heldout.jsonl, manifest.json)")
      ->required();
  cmd->add_option("--tokenizer-model", model, "SentencePiece .model (default: the byte tokenizer)");
  cmd->add_option("--heldout", options.heldout_fraction,
                  "fraction of documents held out, chosen by document hash");
  cmd->add_option("--shard-tokens", options.shard_tokens,
                  "tokens per shard (a shard ends at a document end)");
  cmd->callback([] {
    // The template's "\n" typed on a shell is two characters: make it the newline it means.
    for (size_t at; (at = options.template_text.find("\\n")) != std::string::npos;)
      options.template_text.replace(at, 2, "\n");
    const auto tokenizer = data::make_tokenizer(
        model.empty() ? nlohmann::json{{"type", "byte"}}
                      : nlohmann::json{{"type", "sentencepiece"}, {"model", model}},
        "--tokenizer-model");
    const auto manifest = data::tokenize_corpus(options, *tokenizer, &std::cerr);
    const auto& splits = manifest["splits"];
    std::cout << "wrote " << options.out_dir << "/manifest.json: train "
              << splits["train"]["tokens"] << " tokens (" << splits["train"]["documents"]
              << " documents, " << splits["train"]["shards"].size() << " shards), held out "
              << splits["heldout"]["tokens"] << " tokens (" << splits["heldout"]["documents"]
              << " documents)\n";
  });
}

}  // namespace dreamer::cli
