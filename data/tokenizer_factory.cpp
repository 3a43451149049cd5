// make_tokenizer: the one place that maps a tokenizer's JSON description to an instance.
#include "data/sentencepiece_tokenizer.h"
#include "data/tokenizer.h"
#include "util/json_reader.h"

namespace dreamer::data {

std::shared_ptr<Tokenizer> make_tokenizer(const nlohmann::json& spec, const std::string& path) {
  JsonReader reader(spec, path);
  if (!reader.has("type"))
    throw InputError(reader.path_of("type"), "missing (\"byte\" or \"sentencepiece\")");
  std::string type;
  reader.get("type", type);
  if (type == "byte") {
    reader.finish();
    return std::make_shared<ByteTokenizer>();
  }
  if (type != "sentencepiece")
    throw InputError(reader.path_of("type"),
                     "expected one of {byte, sentencepiece}, got \"" + type + "\"");
  std::string model;
  if (!reader.has("model"))
    throw InputError(reader.path_of("model"), "missing (path of a .model file)");
  reader.get("model", model);
  int64_t vocab_size = -1;
  std::string model_hash;
  reader.get("vocab_size", vocab_size);
  reader.get("model_hash", model_hash);
  reader.finish();
  std::shared_ptr<SentencePieceTokenizer> tokenizer;
  try {
    tokenizer = std::make_shared<SentencePieceTokenizer>(model);
  } catch (const InputError& e) {
    throw InputError(reader.path_of("model"), e.what());
  }
  if (vocab_size >= 0 && vocab_size != tokenizer->vocab_size())
    throw InputError(reader.path_of("vocab_size"),
                     "model has " + std::to_string(tokenizer->vocab_size()) + " pieces, expected " +
                         std::to_string(vocab_size));
  if (!model_hash.empty()) {
    const std::string actual = tokenizer->to_json()["model_hash"];
    if (actual != model_hash)
      throw InputError(reader.path_of("model_hash"),
                       "model file changed since it was recorded (hash " + actual + ", expected " +
                           model_hash + ")");
  }
  return tokenizer;
}

}  // namespace dreamer::data
