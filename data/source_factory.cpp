// make_source: the one place that maps a source's JSON spec to a DocumentSource.
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "data/corpus_readers.h"
#include "data/source.h"
#include "data/synthetic_source.h"
#include "util/json_reader.h"

namespace dreamer::data {

namespace {

std::string required_string(JsonReader& reader, const std::string& key, const std::string& what) {
  if (!reader.has(key)) throw InputError(reader.path_of(key), "missing (" + what + ")");
  std::string value;
  reader.get(key, value);
  return value;
}

// A data file that cannot be read is reported at the JSON path that named it (an experiment
// file's "$.data.train.path"), not only by its own name.
void require_readable(const std::string& file, const std::string& where) {
  struct stat info {};
  if (stat(file.c_str(), &info) != 0)
    throw InputError(where, "cannot read data file \"" + file + "\": " + std::strerror(errno));
  if (S_ISDIR(info.st_mode))
    throw InputError(where, "\"" + file + "\" is a directory (expected a data file)");
}

std::shared_ptr<DocumentSource> make_jsonl(JsonReader& reader) {
  const std::string file = required_string(reader, "path", "a JSONL file");
  require_readable(file, reader.path_of("path"));
  bool shuffle = true;
  reader.get("shuffle", shuffle);
  const bool has_template = reader.has("template"), has_fields = reader.has("fields");
  if (has_template == has_fields)
    throw InputError(reader.path(),
                     "expected exactly one of \"template\" or \"fields\" (the field mapping)");
  FieldTemplate mapping;
  if (has_template) {
    std::string text;
    reader.get("template", text);
    mapping = FieldTemplate::parse(text, reader.path_of("template"));
  } else {
    std::vector<std::string> names;
    reader.get("fields", names);
    if (names.empty())
      throw InputError(reader.path_of("fields"), "expected at least one field name");
    std::string separator = "\n";
    reader.get("separator", separator);
    mapping = FieldTemplate::join(names, separator);
  }
  reader.finish();
  nlohmann::json canonical = {
      {"type", "jsonl"}, {"path", file}, {"template", mapping.text()}, {"shuffle", shuffle}};
  return std::make_shared<FileDocuments>(read_jsonl_documents(file, mapping), shuffle, canonical);
}

std::shared_ptr<DocumentSource> make_text(JsonReader& reader) {
  const std::string file = required_string(reader, "path", "a text file");
  require_readable(file, reader.path_of("path"));
  bool shuffle = true;
  reader.get("shuffle", shuffle);
  TextSplit split = TextSplit::kParagraph;
  const std::vector<std::pair<std::string, TextSplit>> splits = {
      {"file", TextSplit::kFile}, {"paragraph", TextSplit::kParagraph}, {"line", TextSplit::kLine}};
  reader.get_enum("split", split, splits);
  reader.finish();
  nlohmann::json canonical = {
      {"type", "text"}, {"path", file}, {"split", enum_name(split, splits)}, {"shuffle", shuffle}};
  return std::make_shared<FileDocuments>(read_text_documents(file, split), shuffle, canonical);
}

}  // namespace

std::shared_ptr<DocumentSource> make_source(const nlohmann::json& spec, const std::string& path) {
  JsonReader reader(spec, path);
  const std::string type = required_string(reader, "type", "\"jsonl\", \"text\" or \"synthetic\"");
  if (type == "jsonl") return make_jsonl(reader);
  if (type == "text") return make_text(reader);
  if (type == "synthetic") {
    if (!reader.has("task"))
      throw InputError(reader.path_of("task"), "missing (a synthetic task spec)");
    reader.child("task");
    reader.finish();
    const std::string task_path = reader.path_of("task");
    return std::make_shared<SyntheticSource>(
        SyntheticTask(TaskSpec::from_json(spec.at("task"), task_path), task_path));
  }
  throw InputError(reader.path_of("type"),
                   "expected one of {jsonl, text, synthetic}, got \"" + type + "\"");
}

}  // namespace dreamer::data
