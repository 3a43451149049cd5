#pragma once
// SHA-256 of a byte string as lower-case hex (Python hashlib.sha256(s).hexdigest()): the
// doc_hash, prompt_hash and target_hash of lm-eval's samples files.
#include <string>

namespace dreamer::eval {

std::string sha256_hex(const std::string& bytes);

}  // namespace dreamer::eval
