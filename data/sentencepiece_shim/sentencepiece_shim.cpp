// The only translation unit that links libsentencepiece (see sentencepiece_shim.h for why).
// Built as its own shared library; never part of dreamer_core.
#include "data/sentencepiece_shim/sentencepiece_shim.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <cstring>
#include <exception>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

int fail(const std::string& message, char* err, size_t err_len) {
  if (err && err_len > 0) {
    const size_t n = std::min(message.size(), err_len - 1);
    std::memcpy(err, message.data(), n);
    err[n] = '\0';
  }
  return 1;
}

// Exceptions must not cross a C ABI: turn them into error codes.
template <typename F>
int guarded(char* err, size_t err_len, F&& body) {
  try {
    return body();
  } catch (const std::exception& e) {
    return fail(e.what(), err, err_len);
  } catch (...) {
    return fail("unknown C++ exception in the SentencePiece shim", err, err_len);
  }
}

}  // namespace

extern "C" {

int dspm_train(const char* const* keys, const char* const* values, size_t n, uint32_t seed,
               char* err, size_t err_len) {
  return guarded(err, err_len, [&] {
    std::unordered_map<std::string, std::string> kwargs;
    for (size_t i = 0; i < n; ++i) kwargs[keys[i]] = values[i];
    sentencepiece::SetRandomGeneratorSeed(seed);  // unigram training samples; pin it
    const auto status = sentencepiece::SentencePieceTrainer::Train(kwargs);
    return status.ok() ? 0 : fail(status.ToString(), err, err_len);
  });
}

int dspm_load(const char* model_path, void** handle, char* err, size_t err_len) {
  return guarded(err, err_len, [&] {
    auto processor = std::make_unique<sentencepiece::SentencePieceProcessor>();
    const auto status = processor->Load(model_path);
    if (!status.ok()) return fail(status.ToString(), err, err_len);
    *handle = processor.release();
    return 0;
  });
}

void dspm_free(void* handle) {
  delete static_cast<sentencepiece::SentencePieceProcessor*>(handle);
}

int dspm_vocab_size(void* handle) {
  return static_cast<sentencepiece::SentencePieceProcessor*>(handle)->GetPieceSize();
}

int dspm_eos_id(void* handle) {
  return static_cast<sentencepiece::SentencePieceProcessor*>(handle)->eos_id();
}

int dspm_encode(void* handle, const char* text, size_t len, dspm_id_sink sink, void* ctx, char* err,
                size_t err_len) {
  return guarded(err, err_len, [&] {
    std::vector<int> ids;
    const auto status = static_cast<sentencepiece::SentencePieceProcessor*>(handle)->Encode(
        absl::string_view(text, len), &ids);
    if (!status.ok()) return fail(status.ToString(), err, err_len);
    std::vector<int32_t> out(ids.begin(), ids.end());
    sink(ctx, out.data(), out.size());
    return 0;
  });
}

int dspm_decode(void* handle, const int32_t* ids, size_t n, dspm_byte_sink sink, void* ctx,
                char* err, size_t err_len) {
  return guarded(err, err_len, [&] {
    std::vector<int> in(ids, ids + n);
    std::string text;
    const auto status =
        static_cast<sentencepiece::SentencePieceProcessor*>(handle)->Decode(in, &text);
    if (!status.ok()) return fail(status.ToString(), err, err_len);
    sink(ctx, text.data(), text.size());
    return 0;
  });
}

}  // extern "C"
