#pragma once
// What every baseline family's file uses: the common LM hyperparameters (flattened into each
// family's JSON), the parts around the layers (models/lm_parts.h), recurrence planning and the
// FamilyInfo every family's config and module make.
#include <torch/torch.h>

#include <memory>
#include <string>

#include "models/blocks/ffn.h"
#include "models/blocks/norm.h"
#include "models/blocks/recurrence.h"
#include "models/blocks/sequence_attention.h"
#include "models/config_fields.h"
#include "models/family.h"
#include "models/lm_parts.h"
#include "models/model.h"
#include "models/shared_config.h"
#include "util/errors.h"
#include "util/json_reader.h"

namespace dreamer::baselines {

using models::ForwardOptions;
using models::InferenceState;
using models::KVCache;
using models::ModelOutput;
using models::NormKind;
using models::ParameterCounts;

// The shared hyperparameters (vocabulary, width, heads, norm, embeddings, init), declared once
// in models/shared_config.h.
using models::Backbone;
using models::ConfigFields;

// The parts around each family's layers (models/lm_parts.h), shared with Dreamer.
using models::cache_at;
using models::default_ffn_hidden;
using models::finish_state;
using models::init_gpt2_style;
using models::LMEnds;
using models::prepare_state;

// Recurrences of this call: the one planner every recurrent family uses
// (models/blocks/recurrence.h); the schedule's JSON is models::recurrence_fields().
using models::plan_recurrences;
using models::recurrence_fields;
using models::validate_schedule;

// A FamilyInfo whose resolve/build/count go through Config::from_json.
template <typename Config, typename Model>
models::FamilyInfo make_family(std::string name, std::string description, std::string source) {
  models::FamilyInfo info;
  info.name = std::move(name);
  info.description = std::move(description);
  info.source = std::move(source);
  info.resolve = [](const nlohmann::json& params, const std::string& path) {
    return Config::from_json(params, path).to_json();
  };
  info.build = [](const models::ModelConfig& config) -> models::LanguageModelPtr {
    return std::make_shared<Model>(config);
  };
  info.count = [](const models::ModelConfig& config) {
    return Config::from_json(config.params, "$").parameter_counts();
  };
  return info;
}

}  // namespace dreamer::baselines
