#include "train/checkpoint.h"

#include <fstream>

#include "train/durable_io.h"
#include "util/fs.h"
#include "util/json_reader.h"
#include "zoo/registry.h"

namespace dreamer::train {

namespace {
constexpr int64_t kVersion = 1;
}

void save_archive(torch::serialize::OutputArchive& archive, const std::string& file) {
  DurableFile out(file);
  try {
    archive.save_to([&](const void* data, size_t n) { return out.write(data, n); });
  } catch (const c10::Error& e) {
    out.finish();  // throws the operating system's cause when a write failed
    throw InputError(file, std::string("cannot write: ") + e.what_without_backtrace());
  }
  out.finish();
}

void save_checkpoint(const std::string& dir, models::LanguageModel& model,
                     const data::Tokenizer& tokenizer) {
  make_directories(dir);
  const nlohmann::json config = {{"format", "dreamer-checkpoint"},
                                 {"version", kVersion},
                                 {"model", model.config().to_json()},
                                 {"tokenizer", tokenizer.to_json()}};
  write_file_durably(fs::join(dir, "config.json"), config.dump(2) + "\n");
  torch::serialize::OutputArchive archive;
  for (const auto& p : model.named_parameters()) archive.write(p.key(), p.value().detach());
  for (const auto& b : model.named_buffers()) archive.write(b.key(), b.value(), /*is_buffer=*/true);
  save_archive(archive, fs::join(dir, "model.pt"));
}

Checkpoint load_checkpoint(const std::string& dir) {
  if (!fs::is_directory(dir)) throw InputError(dir, "checkpoint directory does not exist");
  const auto config_file = fs::join(dir, "config.json");
  const auto weights_file = fs::join(dir, "model.pt");
  if (!fs::exists(config_file))
    throw InputError(config_file, "missing (not a checkpoint directory?)");
  if (!fs::exists(weights_file)) throw InputError(weights_file, "missing");
  const auto config = read_json_file(config_file);
  JsonReader r(config, config_file + ":$");
  std::string format;
  int64_t version = 0;
  r.get("format", format);
  r.get("version", version);
  const auto* model_json = r.raw("model");
  const auto* tokenizer_json = r.raw("tokenizer");
  r.finish();
  if (format != "dreamer-checkpoint" || version != kVersion)
    throw InputError(config_file,
                     "not a version " + std::to_string(kVersion) + " dreamer checkpoint");
  if (!model_json || !tokenizer_json)
    throw InputError(config_file, "needs \"model\" and \"tokenizer\"");

  Checkpoint ck;
  ck.model = zoo::build_model(zoo::model_config_from_json(*model_json, config_file + ":$.model"));
  ck.tokenizer = data::make_tokenizer(*tokenizer_json, config_file + ":$.tokenizer");
  load_weights(dir, *ck.model);
  return ck;
}

void load_weights(const std::string& dir, models::LanguageModel& model) {
  const auto weights_file = fs::join(dir, "model.pt");
  if (!fs::exists(weights_file)) throw InputError(weights_file, "missing");
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(weights_file);
  } catch (const c10::Error& e) {
    throw InputError(weights_file, "cannot read weights");
  }
  torch::NoGradGuard no_grad;
  auto load = [&](const std::string& name, torch::Tensor& target) {
    torch::Tensor value;
    if (!archive.try_read(name, value))
      throw InputError(weights_file, "has no tensor \"" + name + "\"");
    if (value.sizes() != target.sizes())
      throw InputError(weights_file, "tensor \"" + name + "\" has the wrong shape for this config");
    target.copy_(value);
  };
  for (auto& p : model.named_parameters()) load(p.key(), p.value());
  for (auto& b : model.named_buffers()) load(b.key(), b.value());
}

}  // namespace dreamer::train
