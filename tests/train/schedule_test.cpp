// Learning-rate schedules against values computed by hand, and strict settings parsing.
#include <gtest/gtest.h>

#include <cmath>

#include "tests/test_util.h"
#include "train/settings.h"
#include "util/errors.h"

namespace dreamer::train {
namespace {

TEST(Schedule, CosineWarmsUpLinearlyThenDecaysToTheFloorAtTheLastStep) {
  OptimizerSettings o;
  o.lr = 1.0;
  ScheduleSettings s;
  s.kind = ScheduleKind::kCosine;
  s.warmup = 0.1;  // 10 steps of 100
  s.min_lr_ratio = 0.1;
  EXPECT_DOUBLE_EQ(learning_rate(o, s, 0, 100), 0.1);  // (0 + 1) / 10
  EXPECT_DOUBLE_EQ(learning_rate(o, s, 9, 100), 1.0);
  EXPECT_DOUBLE_EQ(learning_rate(o, s, 10, 100), 1.0);  // first step after warmup: the peak
  // Halfway through the 89-step decay (step 10 + 44.5): 0.1 + 0.9 * 0.5 * (1 + cos(pi/2)) = 0.55
  const double mid = 0.1 + 0.9 * 0.5 * (1 + std::cos(M_PI * 44.0 / 89.0));
  EXPECT_NEAR(learning_rate(o, s, 54, 100), mid, 1e-12);
  EXPECT_NEAR(learning_rate(o, s, 99, 100), 0.1, 1e-12);
}

TEST(Schedule, WsdHoldsThePeakThenDecaysLinearlyOverTheLastFraction) {
  OptimizerSettings o;
  o.lr = 2.0;
  ScheduleSettings s;
  s.kind = ScheduleKind::kWsd;
  s.warmup = 5;   // steps when >= 1
  s.decay = 0.2;  // the last 20 of 100 steps
  s.min_lr_ratio = 0.0;
  EXPECT_DOUBLE_EQ(learning_rate(o, s, 4, 100), 2.0);
  EXPECT_DOUBLE_EQ(learning_rate(o, s, 79, 100), 2.0);
  EXPECT_DOUBLE_EQ(learning_rate(o, s, 80, 100), 2.0 * (1 - 1.0 / 20));
  EXPECT_DOUBLE_EQ(learning_rate(o, s, 89, 100), 2.0 * (1 - 10.0 / 20));
  EXPECT_DOUBLE_EQ(learning_rate(o, s, 99, 100), 0.0);
}

TEST(Schedule, ConstantAfterWarmup) {
  OptimizerSettings o;
  o.lr = 0.5;
  ScheduleSettings s;
  s.kind = ScheduleKind::kConstant;
  s.warmup = 0;
  EXPECT_DOUBLE_EQ(learning_rate(o, s, 0, 10), 0.5);
  EXPECT_DOUBLE_EQ(learning_rate(o, s, 9, 10), 0.5);
}

TEST(TrainSettings, UnknownKeysAndBadValuesNameTheirPath) {
  auto error_of = [](const nlohmann::json& j) {
    return testing::error_of([&] { TrainSettings::from_json(j, "x.json:$.train"); });
  };
  EXPECT_NE(error_of({{"tokens", 100}, {"optimizer", {{"lrr", 1}}}}).find("$.train.optimizer.lrr"),
            std::string::npos);
  EXPECT_NE(
      error_of({{"tokens", 100}, {"schedule", {{"type", "linear"}}}}).find("$.train.schedule.type"),
      std::string::npos);
  EXPECT_NE(error_of(nlohmann::json::object()).find("$.train.tokens"), std::string::npos);
  EXPECT_NE(error_of({{"tokens", 100}, {"device", "tpu"}}).find("$.train.device"),
            std::string::npos);
  // A round trip through to_json() parses to the same settings.
  const auto t = TrainSettings::from_json(
      {{"tokens", 2e6}, {"schedule", {{"type", "wsd"}, {"decay", 0.3}}}}, "$");
  EXPECT_EQ(t.tokens, 2000000);
  EXPECT_EQ(TrainSettings::from_json(t.to_json(), "$").to_json(), t.to_json());
}

}  // namespace
}  // namespace dreamer::train
