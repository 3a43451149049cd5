#include <fstream>
#include <sstream>

#include "data/corpus_readers.h"
#include "util/errors.h"

namespace dreamer::data {

namespace {

bool blank(const std::string& s) {
  return s.find_first_not_of(" \t\r\n") == std::string::npos;
}

std::ifstream open_file(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw InputError(file, "cannot open file");
  return in;
}

}  // namespace

std::vector<std::string> read_jsonl_documents(const std::string& file,
                                              const FieldTemplate& mapping) {
  std::ifstream in = open_file(file);
  std::vector<std::string> documents;
  std::string line;
  for (size_t number = 1; std::getline(in, line); ++number) {
    if (blank(line)) continue;
    const std::string where = file + ":" + std::to_string(number);
    nlohmann::json record;
    try {
      record = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {  // parse errors, numbers too large
      throw InputError(where, std::string("expected one JSON object per line: ") + e.what());
    }
    if (!record.is_object())
      throw InputError(where, std::string("expected a JSON object, got ") + record.type_name());
    documents.push_back(mapping.render(record, where));
  }
  if (documents.empty()) throw InputError(file, "no JSON records");
  return documents;
}

std::vector<std::string> read_text_documents(const std::string& file, TextSplit split) {
  std::ifstream in = open_file(file);
  std::vector<std::string> documents;
  auto keep = [&](std::string doc) {
    if (!blank(doc)) documents.push_back(std::move(doc));
  };
  if (split == TextSplit::kFile) {
    std::stringstream all;
    all << in.rdbuf();
    keep(all.str());
  } else {
    std::string line, paragraph;
    while (std::getline(in, line)) {
      if (split == TextSplit::kLine) {
        keep(line);
      } else if (blank(line)) {
        keep(paragraph);
        paragraph.clear();
      } else {
        paragraph += (paragraph.empty() ? "" : "\n") + line;
      }
    }
    keep(paragraph);
  }
  if (documents.empty()) throw InputError(file, "no text");
  return documents;
}

}  // namespace dreamer::data
