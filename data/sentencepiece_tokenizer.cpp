#include "data/sentencepiece_tokenizer.h"

#include <dlfcn.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "data/seeding.h"
#include "data/sentencepiece_shim/sentencepiece_shim.h"
#include "util/errors.h"
#include "util/fs.h"

namespace dreamer::data {

namespace {

// The shim's entry points, resolved once per process.
struct Shim {
  decltype(&dspm_train) train;
  decltype(&dspm_load) load;
  decltype(&dspm_free) free;
  decltype(&dspm_vocab_size) vocab_size;
  decltype(&dspm_eos_id) eos_id;
  decltype(&dspm_encode) encode;
  decltype(&dspm_decode) decode;
};

template <typename F>
void resolve(void* library, const char* name, F& out) {
  out = reinterpret_cast<F>(dlsym(library, name));
  if (!out) throw std::runtime_error(std::string("SentencePiece shim lacks ") + name);
}

// The environment overrides the shim the build made (none when sentencepiece was missing).
std::string shim_path() {
  const char* env = std::getenv("DREAMER_SENTENCEPIECE_SHIM");
  if (env && *env) return env;
#ifdef DREAMER_SENTENCEPIECE_SHIM
  return DREAMER_SENTENCEPIECE_SHIM;
#else
  return "";
#endif
}

const Shim& shim() {
  static const Shim loaded = [] {
    const std::string path = shim_path();
    if (path.empty())
      throw std::runtime_error(
          "this build has no SentencePiece support (libsentencepiece-dev was missing when it was "
          "configured); set DREAMER_SENTENCEPIECE_SHIM to a built shim library");
    // RTLD_LOCAL keeps sentencepiece's protobuf symbols out of the global scope; RTLD_DEEPBIND
    // makes the shim and its dependencies look up symbols in themselves before the global
    // scope, so sentencepiece binds to its own protobuf, not LibTorch's libprotobuf.so.
    void* library = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
    if (!library)
      throw std::runtime_error("cannot load the SentencePiece shim (" + path + "): " + dlerror());
    Shim s{};
    resolve(library, "dspm_train", s.train);
    resolve(library, "dspm_load", s.load);
    resolve(library, "dspm_free", s.free);
    resolve(library, "dspm_vocab_size", s.vocab_size);
    resolve(library, "dspm_eos_id", s.eos_id);
    resolve(library, "dspm_encode", s.encode);
    resolve(library, "dspm_decode", s.decode);
    return s;  // never dlclose()d: sentencepiece keeps global state until exit
  }();
  return loaded;
}

struct ErrorBuffer {
  char text[1024] = {0};
};

}  // namespace

bool sentencepiece_built() {
  return !shim_path().empty();
}

std::string train_sentencepiece(const std::vector<std::string>& input_files,
                                const std::string& model_prefix,
                                const SentencePieceTrainOptions& options) {
  if (input_files.empty()) throw std::invalid_argument("train_sentencepiece: no input files");
  if (options.model_type != "bpe" && options.model_type != "unigram")
    throw std::invalid_argument("train_sentencepiece: model_type must be \"bpe\" or \"unigram\"");
  std::string inputs;
  for (const auto& f : input_files) inputs += (inputs.empty() ? "" : ",") + f;
  std::ostringstream coverage;
  coverage << options.character_coverage;
  // Identity normalisation and kept whitespace: the tokenizer must round-trip the exact bytes
  // of the corpus (digits, spacing and newlines carry meaning in reasoning data).
  const std::vector<std::pair<std::string, std::string>> kwargs = {
      {"input", inputs},
      {"model_prefix", model_prefix},
      {"vocab_size", std::to_string(options.vocab_size)},
      {"model_type", options.model_type},
      {"character_coverage", coverage.str()},
      {"byte_fallback", options.byte_fallback ? "true" : "false"},
      {"normalization_rule_name", "identity"},
      {"remove_extra_whitespaces", "false"},
      {"num_threads", std::to_string(options.num_threads)},
      {"minloglevel", "2"},  // errors only: SentencePiece's info log is hundreds of lines
  };
  std::vector<const char*> keys, values;
  for (const auto& [k, v] : kwargs) {
    keys.push_back(k.c_str());
    values.push_back(v.c_str());
  }
  ErrorBuffer err;
  if (shim().train(keys.data(), values.data(), keys.size(), options.seed, err.text,
                   sizeof(err.text)) != 0)
    throw std::runtime_error("SentencePiece training failed: " + std::string(err.text));
  return model_prefix + ".model";
}

std::string SentencePieceTokenizer::file_hash(const std::string& model_path) {
  std::ifstream in(model_path, std::ios::binary);
  if (!in) throw InputError(model_path, "cannot open SentencePiece model");
  std::stringstream bytes;
  bytes << in.rdbuf();
  std::ostringstream hex;
  hex << std::hex << fnv1a64(bytes.str());
  return hex.str();
}

SentencePieceTokenizer::SentencePieceTokenizer(std::string model_path)
    // Absolute, so the recorded config does not depend on the working directory.
    : model_path_(fs::absolute(model_path)), model_hash_(file_hash(model_path_)) {
  const Shim& s = shim();
  void* handle = nullptr;
  ErrorBuffer err;
  if (s.load(model_path_.c_str(), &handle, err.text, sizeof(err.text)) != 0)
    throw InputError(model_path_, std::string("cannot load SentencePiece model: ") + err.text);
  handle_ = std::shared_ptr<void>(handle, s.free);
  vocab_size_ = s.vocab_size(handle);
  eos_id_ = s.eos_id(handle);
  if (eos_id_ < 0)
    throw InputError(model_path_, "SentencePiece model has no end-of-sentence piece (eos_id)");
}

std::vector<int64_t> SentencePieceTokenizer::encode(const std::string& text) const {
  std::vector<int64_t> ids;
  auto sink = [](void* ctx, const int32_t* data, size_t n) {
    static_cast<std::vector<int64_t>*>(ctx)->assign(data, data + n);
  };
  ErrorBuffer err;
  if (shim().encode(handle_.get(), text.data(), text.size(), sink, &ids, err.text,
                    sizeof(err.text)) != 0)
    throw std::runtime_error(std::string("SentencePiece encode failed: ") + err.text);
  return ids;
}

std::string SentencePieceTokenizer::decode(const std::vector<int64_t>& ids) const {
  // Like ByteTokenizer, ids outside the vocabulary decode to nothing (SentencePiece itself
  // would reject the whole sequence).
  std::vector<int32_t> in;
  in.reserve(ids.size());
  for (int64_t id : ids)
    if (id >= 0 && id < vocab_size_) in.push_back(static_cast<int32_t>(id));
  std::string text;
  auto sink = [](void* ctx, const char* data, size_t n) {
    static_cast<std::string*>(ctx)->assign(data, n);
  };
  ErrorBuffer err;
  if (shim().decode(handle_.get(), in.data(), in.size(), sink, &text, err.text, sizeof(err.text)) !=
      0)
    throw std::runtime_error(std::string("SentencePiece decode failed: ") + err.text);
  return text;
}

nlohmann::json SentencePieceTokenizer::to_json() const {
  return {{"type", "sentencepiece"},
          {"model", model_path_},
          {"vocab_size", vocab_size_},
          {"model_hash", model_hash_}};
}

}  // namespace dreamer::data
