// Checkpoint loading as `dreamer eval --checkpoint DIR` does it, with the input as the
// directory's config.json (format, model config, tokenizer) next to an unreadable model.pt:
// every input must end in an InputError (at the latest "cannot read weights"). Configs whose
// analytic parameter count is over 2M are skipped before loading: allocating a large model is
// legitimate and not what this target is about.
#include <nlohmann/json.hpp>

#include "fuzz/fuzz_target.h"
#include "train/checkpoint.h"
#include "zoo/registry.h"

DREAMER_FUZZ_TARGET(checkpoint_config) {
  using namespace dreamer;
  fuzz::write_scratch_file("config.json", data, size);
  fuzz::write_scratch_file("model.pt", reinterpret_cast<const uint8_t*>("not a tensor archive"),
                           20);
  try {
    const auto j = nlohmann::json::parse(data, data + size);
    const auto config = zoo::model_config_from_json(j.at("model"));
    if (zoo::analytic_parameter_counts(config).total > 2'000'000) return;
  } catch (const std::exception&) {
    // the loader below must reject it with an InputError
  }
  train::load_checkpoint(fuzz::scratch_dir());
  fuzz::check(false, "a checkpoint with an unreadable model.pt loaded");
}
