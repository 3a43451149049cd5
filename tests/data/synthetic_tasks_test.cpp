// Synthetic tasks: every answer is recomputed by an independent solver that reads only the
// prompt; the difficulty knob, splits and determinism are checked on generated data.
#include <gtest/gtest.h>

#include <map>
#include <queue>
#include <set>
#include <sstream>

#include "data/synthetic.h"
#include "data/synthetic_task.h"
#include "tests/data/data_test_util.h"

namespace dreamer::data {
namespace {

struct Solved {
  std::string answer;
  int steps = 0;
};

// "3+4*2-7=" evaluated left to right mod m; steps = number of operators.
Solved solve_modular(const std::string& prompt, int modulus) {
  EXPECT_EQ(prompt.back(), '=');
  int value = prompt[0] - '0', steps = 0;
  for (size_t i = 1; i + 1 < prompt.size(); i += 2) {
    const int x = prompt[i + 1] - '0';
    EXPECT_TRUE(x >= 0 && x < modulus) << prompt;
    if (prompt[i] == '+') value = (value + x) % modulus;
    if (prompt[i] == '-') value = (value - x + modulus) % modulus;
    if (prompt[i] == '*') value = (value * x) % modulus;
    ++steps;
  }
  return {std::to_string(value), steps};
}

// "a=5,b=a;b=": follow definitions; steps = variable-to-variable hops.
Solved solve_variables(const std::string& prompt, int* n_assignments) {
  const size_t semi = prompt.find(';');
  std::map<char, std::string> def;
  std::stringstream list(prompt.substr(0, semi));
  std::string item;
  *n_assignments = 0;
  while (std::getline(list, item, ',')) {
    EXPECT_EQ(item.size(), 3u) << item;
    EXPECT_EQ(def.count(item[0]), 0u) << "assigned twice: " << item;
    def[item[0]] = item.substr(2);
    ++*n_assignments;
  }
  char var = prompt[semi + 1];
  int hops = 0;
  while (!isdigit(static_cast<unsigned char>(def.at(var)[0]))) {
    var = def.at(var)[0];
    ++hops;
    EXPECT_LT(hops, 30) << "cycle in " << prompt;
    if (hops >= 30) break;
  }
  return {def.at(var), hops};
}

// "a>b,c>d;a>d?": BFS; steps = shortest path length when reachable.
Solved solve_graph(const std::string& prompt, int* n_edges) {
  const size_t semi = prompt.find(';');
  std::map<char, std::vector<char>> out;
  std::stringstream list(prompt.substr(0, semi));
  std::string e;
  *n_edges = 0;
  while (std::getline(list, e, ',')) {
    out[e[0]].push_back(e[2]);
    ++*n_edges;
  }
  const char source = prompt[semi + 1], target = prompt[semi + 3];
  std::map<char, int> dist{{source, 0}};
  std::queue<char> q;
  q.push(source);
  while (!q.empty()) {
    const char u = q.front();
    q.pop();
    for (char v : out[u])
      if (!dist.count(v)) {
        dist[v] = dist[u] + 1;
        q.push(v);
      }
  }
  if (!dist.count(target)) return {"no", -1};
  return {"yes", dist[target]};
}

TEST(SyntheticTasks, ModularArithmeticAnswersAreCorrect) {
  std::mt19937_64 rng(1);
  for (int modulus : {2, 7, 10})
    for (int steps = 1; steps <= 8; ++steps)
      for (int i = 0; i < 50; ++i) {
        const Example ex = modular_arithmetic(rng, steps, modulus);
        const Solved s = solve_modular(ex.prompt, modulus);
        EXPECT_EQ(ex.answer, s.answer) << ex.prompt;
        EXPECT_EQ(s.steps, steps);
        EXPECT_EQ(ex.steps, steps);
      }
}

TEST(SyntheticTasks, VariableTrackingAnswersAreCorrect) {
  std::mt19937_64 rng(2);
  for (int distractors : {0, 3, 8})
    for (int steps = 1; steps <= 10; ++steps)
      for (int i = 0; i < 50; ++i) {
        const Example ex = variable_tracking(rng, steps, distractors);
        int n = 0;
        const Solved s = solve_variables(ex.prompt, &n);
        EXPECT_EQ(ex.answer, s.answer) << ex.prompt;
        EXPECT_EQ(s.steps, steps) << ex.prompt;
        EXPECT_EQ(n, steps + 1 + distractors) << ex.prompt;
      }
}

TEST(SyntheticTasks, MultiDigitAdditionAnswersAreCorrect) {
  std::mt19937_64 rng(3);
  for (int steps = 1; steps <= 18; ++steps)  // 18 digits: the sum still fits in uint64
    for (int i = 0; i < 50; ++i) {
      const Example ex = multi_digit_addition(rng, steps);
      const size_t plus = ex.prompt.find('+');
      const std::string a = ex.prompt.substr(0, plus);
      const std::string b = ex.prompt.substr(plus + 1, ex.prompt.size() - plus - 2);
      EXPECT_EQ(static_cast<int>(a.size()), steps);
      EXPECT_EQ(static_cast<int>(b.size()), steps);
      if (steps > 1) {
        EXPECT_NE(a[0], '0');
      }
      EXPECT_EQ(ex.answer, std::to_string(std::stoull(a) + std::stoull(b))) << ex.prompt;
    }
}

TEST(SyntheticTasks, GraphReachabilityAnswersAreCorrect) {
  std::mt19937_64 rng(4);
  for (int branches : {0, 1, 3})
    for (int steps = 1; steps <= 8; ++steps) {
      int yes = 0;
      for (int i = 0; i < 60; ++i) {
        const Example ex = graph_reachability(rng, steps, branches);
        int edges = 0;
        const Solved s = solve_graph(ex.prompt, &edges);
        EXPECT_EQ(ex.answer, s.answer) << ex.prompt;
        if (s.answer == "yes") {
          EXPECT_EQ(s.steps, steps) << ex.prompt;
          ++yes;
        }
        EXPECT_EQ(edges, 2 * steps + 2 * branches);
      }
      EXPECT_GT(yes, 10);  // both answers occur (p = 1/2 each)
      EXPECT_LT(yes, 50);
    }
}

TEST(SyntheticTasks, GeneratorsRejectImpossibleKnobs) {
  std::mt19937_64 rng(0);
  EXPECT_THROW(modular_arithmetic(rng, 0), std::invalid_argument);
  EXPECT_THROW(variable_tracking(rng, 20, 10), std::invalid_argument);
  EXPECT_THROW(graph_reachability(rng, 12, 1), std::invalid_argument);
}

SyntheticTask make(const nlohmann::json& spec) {
  return SyntheticTask(TaskSpec::from_json(spec));
}

TEST(SyntheticTaskSpec, StepsKnobSetsTheRangeAndOodIsHarder) {
  for (const std::string name :
       {"modular_arithmetic", "variable_tracking", "multi_digit_addition", "graph_reachability"}) {
    const auto train = make({{"task", name}, {"steps", {2, 3}}});
    const auto ood = make({{"task", name}, {"steps", {2, 3}}, {"split", "test_ood"}});
    std::set<int> train_steps, ood_steps;
    for (const auto& ex : train.examples(200)) train_steps.insert(ex.steps);
    for (const auto& ex : ood.examples(200)) ood_steps.insert(ex.steps);
    EXPECT_EQ(train_steps, (std::set<int>{2, 3})) << name;
    EXPECT_EQ(ood_steps, (std::set<int>{4, 5, 6})) << name;  // default [max+1, 2*max]
  }
  const auto explicit_ood = make({{"task", "modular_arithmetic"},
                                  {"steps", {1, 2}},
                                  {"ood_steps", {7, 7}},
                                  {"split", "test_ood"}});
  for (const auto& ex : explicit_ood.examples(20)) {
    EXPECT_EQ(ex.steps, 7);
    EXPECT_EQ(solve_modular(ex.prompt, 10).steps, 7);
  }
}

TEST(SyntheticTaskSpec, TestIdPromptsNeverAppearInTrain) {
  // 3-step modular arithmetic has 10^4 * 3^3 = 270k prompts: 20k training draws repeat many
  // prompts, so an overlap would show up if the partition did not hold.
  const nlohmann::json base = {{"task", "modular_arithmetic"}, {"steps", {1, 3}}};
  auto train_spec = base, id_spec = base;
  id_spec["split"] = "test_id";
  std::set<std::string> train;
  for (const auto& ex : make(train_spec).examples(20000)) train.insert(ex.prompt);
  int checked = 0;
  std::set<int> id_steps;
  for (const auto& ex : make(id_spec).examples(500)) {
    EXPECT_EQ(train.count(ex.prompt), 0u) << ex.prompt;
    EXPECT_EQ(ex.answer, solve_modular(ex.prompt, 10).answer);
    id_steps.insert(ex.steps);
    ++checked;
  }
  EXPECT_EQ(checked, 500);
  EXPECT_EQ(id_steps, (std::set<int>{1, 2, 3}));  // same difficulty range as train
}

TEST(SyntheticTaskSpec, DeterministicBySeed) {
  const nlohmann::json spec = {{"task", "variable_tracking"}, {"steps", {1, 4}}, {"seed", 11}};
  const auto a = make(spec).examples(50), b = make(spec).examples(50);
  auto other_spec = spec;
  other_spec["seed"] = 12;
  const auto c = make(other_spec).examples(50);
  int differ = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].prompt, b[i].prompt);
    differ += a[i].prompt != c[i].prompt;
  }
  EXPECT_GT(differ, 40);
  // Random access: example 37 alone equals the 37th of the sequence.
  EXPECT_EQ(make(spec).example(37).prompt, a[37].prompt);
}

TEST(SyntheticTaskSpec, ToJsonRebuildsTheSameTask) {
  const auto task = make({{"task", "graph_reachability"},
                          {"steps", {2, 5}},
                          {"branches", 2},
                          {"split", "test_id"},
                          {"seed", 5}});
  const auto rebuilt = SyntheticTask(TaskSpec::from_json(task.spec().to_json()));
  EXPECT_EQ(rebuilt.spec().to_json(), task.spec().to_json());
  for (uint64_t i = 0; i < 20; ++i) EXPECT_EQ(rebuilt.example(i).prompt, task.example(i).prompt);
}

void expect_input_error(const nlohmann::json& spec, const std::string& where,
                        const std::string& fragment) {
  testing::expect_input_error([&] { make(spec); }, where, fragment);
}

TEST(SyntheticTaskSpec, StrictErrorsNameThePath) {
  expect_input_error({{"task", "modular_arithmetic"}, {"modulos", 7}}, "$.modulos", "unknown key");
  expect_input_error({{"task", "pointer_soup"}}, "$.task", "variable_tracking");
  expect_input_error({{"task", "modular_arithmetic"}, {"steps", {3, 2}}}, "$.steps", "min <= max");
  expect_input_error({{"task", "modular_arithmetic"}, {"split", "dev"}}, "$.split", "test_ood");
  expect_input_error({{"task", "modular_arithmetic"}, {"steps", {2, 4}}, {"ood_steps", {3, 6}}},
                     "$.ood_steps", "above");
  expect_input_error({{"task", "modular_arithmetic"}, {"distractors", 2}}, "$.distractors",
                     "unknown key");
  // 13 steps: the OOD range needs 26 variables + distractors, more than the alphabet.
  expect_input_error({{"task", "variable_tracking"}, {"steps", {1, 13}}}, "$", "<= 26");
}

}  // namespace
}  // namespace dreamer::data
