#pragma once
// The model part of experiments/schema.json, generated from the families' config declarations
// (models/config_fields.h): "$defs/model" (family, preset, one branch per family) and one
// "$defs/model_<family>" per family with every key, its default, range and one-line doc.
// `dreamer schema --write experiments/schema.json` rewrites it; a test keeps the shipped file
// equal to the generated one.
#include <nlohmann/json.hpp>

#include <string>

namespace dreamer::experiments {

// JSON Schema "properties" of a family's params object: its config declaration with a default
// config's values. Throws InputError for a family without a declaration.
nlohmann::ordered_json params_schema(const std::string& family);

// {"model": ..., "model_dreamer": ..., ...}: the generated $defs entries.
nlohmann::ordered_json model_schema_defs();

// `schema_text` (the text of experiments/schema.json) with its "$defs" model entries replaced
// by model_schema_defs(); the rest of the text is kept byte for byte. Throws InputError naming
// `file` when the text has no "$defs" "model" entry.
std::string with_generated_model_schema(const std::string& schema_text,
                                        const std::string& file = "schema.json");

// A JSON value as the shipped schema writes it: on one line when it fits in `width` columns
// (counting `column` characters already on the line), else one member per line, indented by
// two spaces per level from `indent`.
std::string format_json(const nlohmann::ordered_json& value, int indent = 0, int column = 0,
                        int width = 100);

}  // namespace dreamer::experiments
