#pragma once
// Checkpoints: a directory holding
//   config.json  {"format": "dreamer-checkpoint", "version": 1,
//                 "model": ModelConfig::to_json(), "tokenizer": Tokenizer::to_json()}
//   model.pt     every named parameter and buffer, written with torch::serialize::OutputArchive
//                under its module path (e.g. "layer.router.selection_bias")
// Loading rebuilds the model from config.json through the registry and copies every tensor in;
// a missing or misshaped tensor is an error. The trainer adds optimizer and data state as
// further files beside these (readers ignore files they do not know).
#include <memory>
#include <string>

#include "data/tokenizer.h"
#include "models/model.h"

namespace dreamer::train {

struct Checkpoint {
  models::LanguageModelPtr model;
  std::shared_ptr<data::Tokenizer> tokenizer;
};

// Every file is fsynced (train/durable_io.h); a failed write is an InputError naming the file
// and the cause. The caller renames a finished directory into place (the trainer does).
void save_checkpoint(const std::string& dir, models::LanguageModel& model,
                     const data::Tokenizer& tokenizer);
// Writes `archive` to `file` through a DurableFile: fsynced, failures as InputError.
void save_archive(torch::serialize::OutputArchive& archive, const std::string& file);
// Throws InputError naming the directory or file for a missing or malformed checkpoint.
Checkpoint load_checkpoint(const std::string& dir);
// Copies the checkpoint's model.pt into `model` (built from the same config); a missing or
// misshaped tensor is an InputError.
void load_weights(const std::string& dir, models::LanguageModel& model);

}  // namespace dreamer::train
