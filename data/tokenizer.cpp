#include "data/tokenizer.h"

namespace dreamer::data {

std::vector<int64_t> ByteTokenizer::encode(const std::string& text) const {
  std::vector<int64_t> ids;
  ids.reserve(text.size());
  for (unsigned char c : text) ids.push_back(c);
  return ids;
}

std::string ByteTokenizer::decode(const std::vector<int64_t>& ids) const {
  std::string text;
  for (int64_t id : ids)
    if (id >= 0 && id < 256) text.push_back(static_cast<char>(id));  // specials print nothing
  return text;
}

}  // namespace dreamer::data
