// Every experiment file of experiments/paper/ plans on the CPU (paper-scale files without their
// corpus, the small variants with their data opened), and every arm's planned model meets its
// own criteria: the costs are recomputed here from the family's cost model, not read back from
// the solver's report.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>

#include "eval/task_spec.h"
#include "experiments/expand.h"
#include "experiments/runner.h"
#include "tests/test_util.h"
#include "util/fs.h"
#include "zoo/registry.h"

namespace dreamer::testing {
namespace {

const std::string kPaperDir = std::string(DREAMER_SOURCE_DIR) + "/experiments/paper";

std::vector<std::string> paper_files() {
  std::vector<std::string> files;
  for (const auto& name : fs::list_directory(kPaperDir))
    if (name.size() > 5 && name.substr(name.size() - 5) == ".json") files.push_back(name);
  return files;
}

bool is_small(const std::string& name) {
  return name.find(".small.") != std::string::npos;
}

// The small variants name ../shared/data/... relative to the repository root.
struct InSourceDir {
  std::string before = [] {
    char buffer[4096];
    return std::string(getcwd(buffer, sizeof buffer) ? buffer : ".");
  }();
  InSourceDir() { EXPECT_EQ(chdir(DREAMER_SOURCE_DIR), 0); }
  ~InSourceDir() { EXPECT_EQ(chdir(before.c_str()), 0); }
};

TEST(PaperFiles, EveryFilePlansAndEveryArmMeetsItsCriteria) {
  InSourceDir in_source;
  const auto files = paper_files();
  ASSERT_GE(files.size(), 10u);  // five claims, each with paper-scale file(s) and a small variant
  int small = 0;
  for (const auto& name : files) {
    SCOPED_TRACE(name);
    const std::string file = kPaperDir + "/" + name;
    small += is_small(name);
    const auto spec = experiments::read_experiment(file, /*check_data=*/is_small(name));
    EXPECT_FALSE(spec.description.empty());
    const auto plan = experiments::plan_experiment(spec, eval::task_search_dirs());
    ASSERT_EQ(plan.runs.size(), spec.matching.arms.size() * spec.seeds.size());
    for (const auto& arm : spec.matching.arms) {
      SCOPED_TRACE(arm.name);
      ASSERT_FALSE(arm.criteria.empty());
      const auto run = std::find_if(plan.runs.begin(), plan.runs.end(),
                                    [&](const auto& r) { return r.arm == arm.name; });
      ASSERT_NE(run, plan.runs.end());
      const auto cost =
          zoo::family(run->match.config.family).cost(run->match.config, spec.matching.workload);
      for (const auto c : arm.criteria) {
        const auto target = matching::target_of(spec.matching.targets, c);
        ASSERT_TRUE(target.has_value());
        const double value = c == matching::Criterion::kParams  ? cost.params.total
                             : c == matching::Criterion::kFlops ? cost.flops_forward_per_token
                                                                : cost.memory_train_bytes;
        EXPECT_LE(std::abs(value / *target - 1), arm.tolerance) << value << " vs " << *target;
      }
    }
  }
  EXPECT_EQ(small, 5);  // one small variant per claim (SmallVariantsIncludeTheirPaperFile)
}

TEST(PaperFiles, SmallVariantsIncludeTheirPaperFile) {
  for (const auto& name : paper_files()) {
    if (!is_small(name)) continue;
    SCOPED_TRACE(name);
    std::ifstream in(kPaperDir + "/" + name);
    const auto j = nlohmann::json::parse(in);
    ASSERT_TRUE(j.contains("include"));
    EXPECT_EQ(j["include"].get<std::string>(), name.substr(0, name.find(".small.")) + ".json");
  }
}

TEST(PaperFiles, PaperScaleFilesNameTheMissingCorpusWhenDataIsChecked) {
  const auto spec = [] {
    try {
      experiments::read_experiment(kPaperDir + "/main_table.json");
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string();
  }();
  EXPECT_NE(spec.find("MATHS_COLLEGE_DIR"), std::string::npos) << spec;
}

TEST(PaperFiles, TwoTimesLargerBaselinesHaveTwiceTheParameters) {
  const auto spec = experiments::read_experiment(kPaperDir + "/vs_2x_larger.json", false);
  const auto plan = experiments::plan_experiment(spec, eval::task_search_dirs());
  double dreamer = 0;
  for (const auto& r : plan.runs)
    if (r.arm == "DR+DA+EA") dreamer = r.match.cost.params.total;
  ASSERT_GT(dreamer, 0);
  for (const auto& r : plan.runs)
    if (r.arm != "DR+DA+EA") {
      EXPECT_NEAR(r.match.cost.params.total / dreamer, 2.0, 0.15) << r.arm;
    }
}

}  // namespace
}  // namespace dreamer::testing
