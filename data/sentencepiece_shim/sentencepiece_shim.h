#pragma once
// Plain C ABI of the SentencePiece shim library (libdreamer_sentencepiece_shim.so).
//
// Why a shim: libsentencepiece carries its own copy of protobuf-lite with default-visibility
// symbols. Linked into a binary that also loads LibTorch (which brings libprotobuf.so.32),
// sentencepiece's static initialisers bind to the other protobuf and crash at load time. The
// shim is the only object that links sentencepiece; dreamer_core dlopen()s it with
// RTLD_LOCAL | RTLD_DEEPBIND (data/sentencepiece_tokenizer.cpp), so sentencepiece resolves its
// protobuf symbols inside its own library and nothing leaks into the global namespace.
// Only C types cross this boundary, so the two sides need not agree on C++ ABI details.
#include <stddef.h>
#include <stdint.h>

// The shim is built with hidden visibility; only these entry points are exported.
#define DSPM_API __attribute__((visibility("default")))

#ifdef __cplusplus
extern "C" {
#endif

// Receives a chunk of output (ids or bytes); `ctx` is the caller's.
typedef void (*dspm_id_sink)(void* ctx, const int32_t* ids, size_t n);
typedef void (*dspm_byte_sink)(void* ctx, const char* bytes, size_t n);

// Every function returns 0 on success; on failure it returns non-zero and writes a
// NUL-terminated message into `err` (at most `err_len` bytes).

// Trains a model from `n` key/value pairs of SentencePiece trainer options
// (e.g. "input", "model_prefix", "vocab_size", "model_type"); writes <model_prefix>.model.
DSPM_API int dspm_train(const char* const* keys, const char* const* values, size_t n, uint32_t seed,
                        char* err, size_t err_len);

// Loads a .model file; `*handle` must later be released with dspm_free.
DSPM_API int dspm_load(const char* model_path, void** handle, char* err, size_t err_len);
DSPM_API void dspm_free(void* handle);

DSPM_API int dspm_vocab_size(void* handle);
DSPM_API int dspm_eos_id(void* handle);  // -1 when the model has no end-of-sentence piece

DSPM_API int dspm_encode(void* handle, const char* text, size_t len, dspm_id_sink sink, void* ctx,
                         char* err, size_t err_len);
DSPM_API int dspm_decode(void* handle, const int32_t* ids, size_t n, dspm_byte_sink sink, void* ctx,
                         char* err, size_t err_len);

#ifdef __cplusplus
}
#endif
