// experiments/schema.json is the published format: it must agree with the parser. Every
// shipped experiment file uses only keys the schema declares, and every documented default,
// written out explicitly, parses to the same settings as leaving the key out.
#include <gtest/gtest.h>

#include <fstream>

#include "experiments/experiment_spec.h"
#include "tests/experiments/tiny_experiment.h"
#include "tests/test_util.h"
#include "util/fs.h"
#include "util/json_reader.h"

namespace dreamer::experiments {
namespace {

const std::string kSource = DREAMER_SOURCE_DIR;

const nlohmann::json& schema() {
  static const nlohmann::json s = read_json_file(kSource + "/experiments/schema.json");
  return s;
}

const nlohmann::json& resolve(const nlohmann::json& node) {
  if (node.contains("$ref")) {
    const std::string ref = node["$ref"];  // "#/$defs/train"
    return schema()[nlohmann::json::json_pointer(ref.substr(1))];
  }
  return node;
}

// Every object key in `value` that the schema closes with additionalProperties: false must be
// one of its properties; recurses through properties, array items, $refs and the model's
// per-family branches (allOf: if family = F then $defs/model_F).
void expect_declared(const nlohmann::json& value, const nlohmann::json& node_in,
                     const std::string& path) {
  const nlohmann::json& node = resolve(node_in);
  if (value.is_object() && node.contains("allOf"))
    for (const auto& branch : node["allOf"]) {
      const auto family = nlohmann::json::json_pointer("/if/properties/family/const");
      if (branch.contains(family) && value.value("family", "") == branch[family])
        expect_declared(value, branch["then"], path);
    }
  if (value.is_object() && node.contains("properties")) {
    for (const auto& [key, child] : value.items()) {
      if (node["properties"].contains(key))
        expect_declared(child, node["properties"][key], path + "." + key);
      else
        EXPECT_NE(node.value("additionalProperties", true), false)
            << path << "." << key << " is not in the schema";
    }
  }
  if (value.is_array() && node.contains("items"))
    for (size_t i = 0; i < value.size(); ++i)
      expect_declared(value[i], node["items"], path + "[" + std::to_string(i) + "]");
}

TEST(ExperimentSchema, ShippedExperimentsUseOnlyDeclaredKeysAndParse) {
  int files = 0;
  for (const auto& name : fs::list_directory(kSource + "/experiments")) {
    const std::string path = fs::join(kSource + "/experiments", name);
    if (fs::extension(name) != ".json" || name == "schema.json") continue;
    ++files;
    const auto j = read_json_file(path);
    expect_declared(j, schema(), name + ":$");
    EXPECT_NO_THROW(read_experiment(path)) << path;
  }
  EXPECT_GE(files, 3);  // quickstart and the matching examples
}

TEST(ExperimentSchema, EveryDocumentedTrainingDefaultIsTheParsersDefault) {
  const auto dir = testing::temp_dir();
  auto parse = [&](const nlohmann::json& exp) {
    const std::string file = dir + "/e.json";
    std::ofstream(file) << exp.dump();
    return read_experiment(file).train.at("dreamer").to_json();
  };
  const auto baseline = testing::tiny_experiment();
  const auto plain = parse(baseline);
  int checked = 0;
  const auto& train = schema()["$defs"]["train"]["properties"];
  for (const auto& [key, prop] : train.items()) {
    std::vector<std::pair<std::string, nlohmann::json>> leaves;
    if (prop.contains("properties")) {
      for (const auto& [inner, p] : prop["properties"].items())
        if (p.contains("default")) leaves.push_back({"/train/" + key + "/" + inner, p["default"]});
    } else if (prop.contains("default")) {
      leaves.push_back({"/train/" + key, prop["default"]});
    }
    for (const auto& [pointer, value] : leaves) {
      auto exp = baseline;
      // The tiny experiment sets some of these itself: compare against it with only this key
      // changed to the documented default, and against a copy with the key removed.
      exp[nlohmann::json::json_pointer(pointer)] = value;
      auto without = baseline;
      const auto ptr = nlohmann::json::json_pointer(pointer);
      if (without.contains(ptr)) without[ptr.parent_pointer()].erase(ptr.back());
      EXPECT_EQ(parse(exp), parse(without)) << pointer << " = " << value.dump();
      ++checked;
    }
  }
  EXPECT_GE(checked, 15);
  (void)plain;
}

}  // namespace
}  // namespace dreamer::experiments
