// experiments/schema.json's model part is generated from the config declarations; the shipped
// file must be exactly what `dreamer schema --write experiments/schema.json` writes.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "experiments/model_schema.h"
#include "util/json_reader.h"
#include "zoo/registry.h"

namespace dreamer::experiments {
namespace {

const std::string kSchema = std::string(DREAMER_SOURCE_DIR) + "/experiments/schema.json";

std::string read_text(const std::string& file) {
  std::ifstream in(file);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(ModelSchema, ShippedSchemaIsTheGeneratedOne) {
  const std::string shipped = read_text(kSchema);
  ASSERT_FALSE(shipped.empty());
  EXPECT_EQ(with_generated_model_schema(shipped), shipped)
      << "experiments/schema.json is out of date with the config declarations; run\n"
         "  build/dreamer schema --write experiments/schema.json\nand commit the result";
  // And the parsed file holds every family's generated definition.
  const auto parsed = read_json_file(kSchema);
  const auto generated = nlohmann::json(model_schema_defs());
  for (const auto& f : zoo::families())
    EXPECT_EQ(parsed["$defs"]["model_" + f.name], generated["model_" + f.name]) << f.name;
  EXPECT_EQ(parsed["$defs"]["model"], generated["model"]);
}

TEST(ModelSchema, SplicingKeepsTheRestOfTheFile) {
  const std::string text =
      "{\n  \"$defs\": {\n    \"before\": {\"a\": 1},\n    \"model\": {\"old\": \"{ }\"},\n"
      "    \"model_gone\": {},\n    \"after\": [1, 2]\n  }\n}\n";
  const std::string out = with_generated_model_schema(text);
  const size_t cut = text.find("    \"model\": ");
  EXPECT_EQ(out.substr(0, cut), text.substr(0, cut));
  EXPECT_EQ(out.substr(cut, 13), "    \"model\": ");
  EXPECT_NE(out.find("\n    \"model_dreamer\": {"), std::string::npos);
  EXPECT_EQ(out.find("model_gone"), std::string::npos);
  const std::string tail = ",\n    \"after\": [1, 2]\n  }\n}\n";
  EXPECT_EQ(out.substr(out.size() - tail.size()), tail);
  EXPECT_EQ(with_generated_model_schema(out), out);  // idempotent
  EXPECT_THROW(with_generated_model_schema("{\"$defs\": {}}"), InputError);
}

TEST(ModelSchema, FormatsOnOneLineWhatFitsAndBreaksTheRest) {
  const nlohmann::ordered_json small = {{"a", 1}, {"b", {1, 2}}};
  EXPECT_EQ(format_json(small), R"({"a": 1, "b": [1, 2]})");
  EXPECT_EQ(format_json(small, 0, 0, 16), "{\n  \"a\": 1,\n  \"b\": [1, 2]\n}");
  EXPECT_EQ(format_json(small, 0, 0, 12), "{\n  \"a\": 1,\n  \"b\": [\n    1,\n    2\n  ]\n}");
  EXPECT_EQ(nlohmann::ordered_json::parse(format_json(small, 0, 0, 12)), small);
  // The generated schema keeps to 100 columns except for a long family description.
  const std::string text = read_text(kSchema);
  const size_t from = text.find("\n    \"model\": "), to = text.rfind("\n    \"model_");
  ASSERT_NE(from, std::string::npos);
  std::istringstream lines(text.substr(from, text.find("\n    }", to) - from));
  int count = 0;
  for (std::string line; std::getline(lines, line); ++count) {
    if (line.find("\"description\": ") != line.find_first_not_of(' ')) {
      EXPECT_LE(line.size(), 100u)
          << line << "\n(keep the one-line docs of the declarations short)";
    }
  }
  EXPECT_GT(count, 100);
}

}  // namespace
}  // namespace dreamer::experiments
