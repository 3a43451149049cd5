// The corpus readers: the input's first line is a field template, the rest a data file read as
// JSONL documents (training data), as text split three ways, and as eval JSONL records.
#include "data/corpus_readers.h"
#include "eval/documents.h"
#include "fuzz/fuzz_target.h"

DREAMER_FUZZ_TARGET(jsonl_readers) {
  using namespace dreamer;
  const std::string input(reinterpret_cast<const char*>(data), size);
  const auto newline = input.find('\n');
  const std::string template_text = input.substr(0, newline);
  const std::string body = newline == std::string::npos ? "" : input.substr(newline + 1);
  const auto file = fuzz::write_scratch_file(
      "data.jsonl", reinterpret_cast<const uint8_t*>(body.data()), body.size());
  fuzz::expect_only_input_errors([&] {
    const auto mapping = data::FieldTemplate::parse(template_text, "template");
    const auto docs = data::read_jsonl_documents(file, mapping);
    fuzz::check(!docs.empty(), "read_jsonl_documents returns documents or throws");
  });
  for (auto split : {data::TextSplit::kFile, data::TextSplit::kParagraph, data::TextSplit::kLine})
    fuzz::expect_only_input_errors([&] {
      for (const auto& doc : data::read_text_documents(file, split))
        fuzz::check(doc.find_first_not_of(" \t\r\n") != std::string::npos,
                    "no blank text documents");
    });
  fuzz::expect_only_input_errors([&] {
    for (const auto& record : eval::read_jsonl(file))
      fuzz::check(record.is_object(), "eval JSONL records are objects");
  });
}
