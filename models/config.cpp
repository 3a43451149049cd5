#include "models/config.h"

namespace dreamer::models {

nlohmann::json ModelConfig::to_json() const {
  nlohmann::json j = params;
  j["family"] = family;
  return j;
}

}  // namespace dreamer::models
