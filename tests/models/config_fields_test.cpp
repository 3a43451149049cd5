// The config declarations (models/config_fields.h): one declaration gives strict reading,
// writing, field checks and the schema; one name per concept across the families, and every
// former name is an error that says the new one.
#include <gtest/gtest.h>

#include <functional>
#include <set>

#include "experiments/model_schema.h"
#include "experiments/model_shape.h"
#include "models/config_fields.h"
#include "tests/test_util.h"
#include "util/errors.h"
#include "zoo/registry.h"

namespace dreamer::models {
namespace {

enum class Colour { kRed, kBlue };
const std::vector<std::pair<std::string, Colour>>& colour_names() {
  static const std::vector<std::pair<std::string, Colour>> kNames = {{"red", Colour::kRed},
                                                                     {"blue", Colour::kBlue}};
  return kNames;
}

struct Inner {
  int64_t width = 8;
};
struct Toy {
  int64_t count = 2;
  double rate = 0.5;
  bool on = true;
  Colour colour = Colour::kRed;
  Inner inner;
  int64_t steps = 3;  // JSON "schedule.steps"
};

const ConfigFields<Toy>& toy_fields() {
  static const ConfigFields<Toy> kFields = [] {
    ConfigFields<Inner> inner;
    inner.field("width", &Inner::width, "inner width", positive<int64_t>());
    ConfigFields<Toy> schedule;
    schedule.field("steps", &Toy::steps, "steps", at_least<int64_t>(1));
    ConfigFields<Toy> f;
    f.field("count", &Toy::count, "how many", zero_or_positive<int64_t>());
    f.field("rate", &Toy::rate, "a rate", in_range(0, 1, /*lo_open=*/true));
    f.field("on", &Toy::on, "switch");
    f.choice("colour", &Toy::colour, colour_names(), "a colour");
    f.object("inner", &Toy::inner, inner, "nested struct");
    f.group("schedule", schedule, "nested keys of Toy itself");
    f.renamed("n", "count");
    f.renamed("inner_width", "inner.width");
    return f;
  }();
  return kFields;
}

Toy read_toy(const nlohmann::json& j) {
  Toy t;
  toy_fields().read(j, "$", t);
  toy_fields().check(t, "$");
  return t;
}

using testing::error_of;

TEST(ConfigFields, ReadsWritesAndRoundTrips) {
  const Toy t = read_toy({{"count", 5},
                          {"rate", 1},
                          {"on", false},
                          {"colour", "blue"},
                          {"inner", {{"width", 16}}},
                          {"schedule", {{"steps", 7}}}});
  EXPECT_EQ(t.count, 5);
  EXPECT_EQ(t.rate, 1.0);
  EXPECT_FALSE(t.on);
  EXPECT_EQ(t.colour, Colour::kBlue);
  EXPECT_EQ(t.inner.width, 16);
  EXPECT_EQ(t.steps, 7);
  const nlohmann::json written = toy_fields().write(t);
  EXPECT_EQ(written, (nlohmann::json{{"count", 5},
                                     {"rate", 1.0},
                                     {"on", false},
                                     {"colour", "blue"},
                                     {"inner", {{"width", 16}}},
                                     {"schedule", {{"steps", 7}}}}));
  EXPECT_EQ(toy_fields().write(read_toy(written)), written);
  // Absent keys keep the struct's defaults.
  EXPECT_EQ(toy_fields().write(read_toy(nlohmann::json::object())), toy_fields().write(Toy{}));
}

TEST(ConfigFields, ErrorsNameTheJsonPath) {
  EXPECT_EQ(error_of([] { read_toy({{"cuont", 1}}); }), "$.cuont: unknown key");
  EXPECT_EQ(error_of([] { read_toy({{"inner", {{"widht", 1}}}}); }), "$.inner.widht: unknown key");
  EXPECT_EQ(error_of([] {
              read_toy({{"schedule", {{"step", 1}}}});
            }),
            "$.schedule.step: unknown key");
  EXPECT_EQ(error_of([] {
              read_toy({{"count", -1}});
            }),
            "$.count: must be positive (or 0 for the default), got -1");
  EXPECT_EQ(error_of([] { read_toy({{"rate", 0}}); }), "$.rate: must be in (0.0, 1.0], got 0.0");
  EXPECT_EQ(error_of([] {
              read_toy({{"inner", {{"width", 0}}}});
            }),
            "$.inner.width: must be positive, got 0");
  EXPECT_EQ(error_of([] {
              read_toy({{"schedule", {{"steps", 0}}}});
            }),
            "$.schedule.steps: must be at least 1, got 0");
  EXPECT_EQ(error_of([] {
              read_toy({{"colour", "green"}});
            }),
            "$.colour: expected one of {red, blue}, got \"green\"");
  EXPECT_EQ(error_of([] {
              read_toy({{"count", "two"}});
            }),
            "$.count: expected an integer, got string \"two\"");
}

TEST(ConfigFields, RenamedKeysAreErrorsThatSayTheNewName) {
  EXPECT_EQ(error_of([] { read_toy({{"n", 1}}); }), "$.n: renamed: write $.count instead");
  EXPECT_EQ(error_of([] {
              read_toy({{"inner_width", 1}});
            }),
            "$.inner_width: renamed: write $.inner.width instead");
  EXPECT_EQ(toy_fields().renames(), (std::vector<std::pair<std::string, std::string>>{
                                        {"n", "count"}, {"inner_width", "inner.width"}}));
}

TEST(ConfigFields, SchemaHasEveryKeyWithItsDefaultCheckAndDoc) {
  const auto s = toy_fields().properties(Toy{});
  EXPECT_EQ(nlohmann::json(s), (nlohmann::json::parse(R"({
    "count": {"type": "integer", "minimum": 0, "default": 2, "description": "how many"},
    "rate": {"type": "number", "exclusiveMinimum": 0.0, "maximum": 1.0, "default": 0.5,
             "description": "a rate"},
    "on": {"type": "boolean", "default": true, "description": "switch"},
    "colour": {"enum": ["red", "blue"], "default": "red", "description": "a colour"},
    "inner": {"type": "object", "additionalProperties": false, "description": "nested struct",
              "properties": {"width": {"type": "integer", "minimum": 1, "default": 8,
                                       "description": "inner width"}}},
    "schedule": {"type": "object", "additionalProperties": false,
                 "description": "nested keys of Toy itself",
                 "properties": {"steps": {"type": "integer", "minimum": 1, "default": 3,
                                          "description": "steps"}}}
  })")));
}

// Every former key of every family, with the key that replaced it.
struct Rename {
  std::string family;
  nlohmann::json params;
  std::string where, now;
};
const std::vector<Rename>& renames() {
  static const std::vector<Rename> kRenames = {
      {"moeut", {{"d_head", 64}}, "$.d_head", "$.head_dim"},
      {"moeut", {{"ff_n_experts", 8}}, "$.ff_n_experts", "$.ffn_experts.n_experts"},
      {"moeut", {{"ff_k", 2}}, "$.ff_k", "$.ffn_experts.k"},
      {"moeut", {{"ff_expert_size", 64}}, "$.ff_expert_size", "$.ffn_experts.expert_dim"},
      {"moeut", {{"entropy_reg", 0.1}}, "$.entropy_reg", "$.ffn_experts.entropy_reg"},
      {"moeut", {{"att_n_experts", 4}}, "$.att_n_experts", "$.attention_experts.n_experts"},
      {"moeut", {{"att_k", 2}}, "$.att_k", "$.attention_experts.k"},
      {"moeut", {{"att_entropy_reg", 0.1}}, "$.att_entropy_reg", "$.attention_experts.entropy_reg"},
      {"moe_transformer", {{"moe", {{"k", 2}}}}, "$.moe", "$.ffn_experts"},
      {"dreamer", {{"expert_attention", {{"k", 2}}}}, "$.expert_attention", "$.ffn_experts"},
      {"dense_transformer", {{"ffn_hidden", 128}}, "$.ffn_hidden", "$.ffn.hidden"},
      {"dense_transformer", {{"activation", "gelu"}}, "$.activation", "$.ffn.activation"},
      {"huginn", {{"ffn_hidden", 128}}, "$.ffn_hidden", "$.ffn.hidden"},
      {"huginn", {{"activation", "gelu"}}, "$.activation", "$.ffn.activation"},
      {"universal_transformer", {{"ffn_hidden", 128}}, "$.ffn_hidden", "$.ffn.hidden"},
      {"universal_transformer", {{"activation", "gelu"}}, "$.activation", "$.ffn.activation"},
      {"universal_transformer", {{"recurrences", 3}}, "$.recurrences", "$.recurrence.mean"},
  };
  return kRenames;
}

TEST(ConfigNames, EveryFormerNameIsAnErrorThatSaysTheNewOne) {
  for (const auto& r : renames()) {
    auto j = r.params;
    j["family"] = r.family;
    try {
      zoo::model_config_from_json(j);
      ADD_FAILURE() << "accepted " << j.dump();
    } catch (const InputError& e) {
      EXPECT_EQ(e.where(), r.where) << e.what();
      EXPECT_EQ(e.message(), "renamed: write " + r.now + " instead") << e.what();
    }
  }
}

// Collects the dotted paths of every declared key ("ffn_experts.k").
void collect_paths(const nlohmann::ordered_json& properties, const std::string& prefix,
                   std::set<std::string>& out) {
  for (const auto& [key, p] : properties.items()) {
    out.insert(prefix + key);
    if (p.contains("properties")) collect_paths(p["properties"], prefix + key + ".", out);
  }
}

TEST(ConfigNames, OneNamePerConceptInEveryFamily) {
  const std::set<std::string> former = {
      "d_head", "ff_n_experts",     "ff_k",       "ff_expert_size", "att_n_experts",  "att_k",
      "moe",    "expert_attention", "ffn_hidden", "recurrences",    "entropy_reg_ffn"};
  for (const auto& f : zoo::families()) {
    SCOPED_TRACE(f.name);
    std::set<std::string> paths;
    collect_paths(experiments::params_schema(f.name), "", paths);
    for (const auto& path : paths)
      for (const auto& old : former) EXPECT_NE(path, old);
    // The head layout, everywhere.
    EXPECT_TRUE(paths.count("d_model") && paths.count("n_heads") && paths.count("head_dim"));
    // Routed experts: n_experts and k under the site's object.
    for (const std::string& site : {std::string("ffn_experts"), std::string("attention_experts")}) {
      if (paths.count(site)) {
        EXPECT_TRUE(paths.count(site + ".n_experts")) << site;
        EXPECT_TRUE(paths.count(site + ".k")) << site;
      }
    }
    // A dense FFN is "ffn": {"hidden", "activation"}.
    if (paths.count("ffn")) {
      EXPECT_TRUE(paths.count("ffn.hidden") && paths.count("ffn.activation"));
    }
    // Recurrent families: the default depth is recurrence.mean.
    const auto shape = experiments::model_shape(zoo::model_config_from_json({{"family", f.name}}));
    EXPECT_EQ(shape.recurrent, paths.count("recurrence.mean") == 1);
    // Every free hyperparameter the solver may change is a declared key.
    for (const auto& free : f.free_hyperparameters)
      EXPECT_TRUE(paths.count(free.name)) << free.name;
  }
}

// A JSON pointer for every leaf property that documents a default.
void collect_defaults(const nlohmann::ordered_json& properties, const std::string& pointer,
                      std::vector<std::pair<std::string, nlohmann::json>>& out) {
  for (const auto& [key, p] : properties.items()) {
    if (p.contains("properties"))
      collect_defaults(p["properties"], pointer + "/" + key, out);
    else if (p.contains("default"))
      out.emplace_back(pointer + "/" + key, nlohmann::json(p["default"]));
  }
}

TEST(ConfigNames, EveryDocumentedDefaultIsTheParsersDefault) {
  for (const auto& f : zoo::families()) {
    SCOPED_TRACE(f.name);
    const auto plain = zoo::model_config_from_json({{"family", f.name}}).to_json();
    std::vector<std::pair<std::string, nlohmann::json>> defaults;
    collect_defaults(experiments::params_schema(f.name), "", defaults);
    EXPECT_GE(defaults.size(), 8u);
    for (const auto& [pointer, value] : defaults) {
      nlohmann::json j = {{"family", f.name}};
      j[nlohmann::json::json_pointer(pointer)] = value;
      EXPECT_EQ(zoo::model_config_from_json(j).to_json(), plain)
          << pointer << " = " << value.dump();
    }
  }
}

TEST(ConfigNames, EveryPresetWritesBackWhatItReads) {
  for (const auto& f : zoo::families())
    for (const auto& [preset, overrides] : f.presets) {
      const auto resolved = zoo::model_config_from_preset(f.name, preset).to_json();
      EXPECT_EQ(zoo::model_config_from_json(resolved).to_json(), resolved)
          << f.name << " " << preset;
    }
}

}  // namespace
}  // namespace dreamer::models
