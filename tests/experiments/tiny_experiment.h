#pragma once
// A tiny two-arm experiment (DR+DA+EA and a dense transformer matched to it on parameters)
// that trains in well under a second per run on one CPU thread.
#include <nlohmann/json.hpp>

namespace dreamer::testing {

inline nlohmann::json tiny_experiment() {
  const nlohmann::json dreamer = {{"family", "dreamer"},
                                  {"preset", "DR+DA+EA"},
                                  {"vocab_size", 257},
                                  {"d_model", 32},
                                  {"n_heads", 2},
                                  {"depth_attention", {{"n_heads", 1}}},
                                  {"ffn_experts", {{"n_experts", 4}, {"k", 2}, {"expert_dim", 16}}},
                                  {"recurrence", {{"mean", 2}}}};
  return {
      {"name", "tiny"},
      {"seeds", {0}},
      {"workload", {{"seq_len", 16}, {"batch", 4}}},
      {"reference", {{"model", dreamer}}},
      {"arms",
       {{{"name", "dreamer"}, {"model", dreamer}, {"match", {"params"}}, {"tolerance", 0.01}},
        {{"name", "dense"},
         {"model",
          {{"family", "dense_transformer"},
           {"preset", "small"},
           {"vocab_size", 257},
           {"n_heads", 2},
           {"n_layers", 1}}},
         {"free", {{{"name", "d_model"}, {"min", 16}, {"max", 128}, {"multiple_of", 8}}}},
         {"match", {"params"}},
         {"tolerance", 0.5}}}},
      {"data",
       {{"tokenizer", {{"type", "byte"}}},
        {"train",
         {{"type", "synthetic"}, {"task", {{"task", "modular_arithmetic"}, {"steps", {1, 2}}}}}}}},
      {"train",
       {{"tokens", 8 * 4 * 16},  // 8 steps
        {"device", "cpu"},       // bit-for-bit comparisons hold on the CPU
        {"optimizer", {{"lr", 0.003}}},
        {"schedule", {{"type", "cosine"}, {"warmup", 2}}},
        {"log_every", 2}}},
      {"eval",
       {{"checkpoints", 2},
        {"ratio", 2},
        {"depths", {1, 2}},
        {"batch_size", 8},
        {"tasks",
         {{{"task",
            {{"name", "modular"},
             {"output_type", "generate_until"},
             {"data",
              {{"synthetic",
                {{"source", "modular_arithmetic"},
                 {"n", 6},
                 {"seed", 5},
                 {"params", {{"steps", {1, 2}}}}}}}},
             {"prompt", "{{prompt}}"},
             {"target", "{{answer}}"},
             {"target_delimiter", ""},
             {"generation", {{"until", {"\n"}}, {"max_new_tokens", 2}}}}}}}}}},
      {"report", {{"reference_arm", "dense"}}}};
}

}  // namespace dreamer::testing
