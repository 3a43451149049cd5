// One training loop: Trainer::run is Trainer::train_step over its stream, and the demo and the
// plan's calibration train through train_step (the same steps give the same losses and weights
// as the Trainer stepped directly on the same data and seed).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <stdexcept>

#include "data/mixture.h"
#include "data/packed_stream.h"
#include "experiments/runner.h"
#include "tests/experiments/tiny_experiment.h"
#include "tests/models/tiny_configs.h"
#include "tests/test_util.h"
#include "train/checkpoint.h"
#include "train/demo.h"
#include "train/trainer.h"
#include "zoo/registry.h"

namespace dreamer::testing {
namespace {

// A tiny zoo config (tests/models/tiny_configs.cpp) that reads byte tokens.
models::ModelConfig byte_config(const std::string& name) {
  for (auto& c : tiny_model_cases())
    if (c.name == name) {
      c.config["vocab_size"] = 257;
      return zoo::model_config_from_json(c.config);
    }
  throw std::runtime_error("no tiny config " + name);
}

data::PackedStream arithmetic_stream(int64_t seq_len) {
  const nlohmann::json spec = {{"type", "synthetic"},
                               {"task", {{"task", "modular_arithmetic"}, {"steps", {1, 2}}}}};
  return data::PackedStream(std::make_shared<data::ByteTokenizer>(), data::Mixture::from_json(spec),
                            /*seed=*/4, seq_len);
}

void expect_same_weights(models::LanguageModel& a, models::LanguageModel& b) {
  auto pa = a.named_parameters(), pb = b.named_parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (const auto& p : pa) EXPECT_TRUE(torch::equal(p.value(), pb[p.key()])) << p.key();
  auto ba = a.named_buffers(), bb = b.named_buffers();
  for (const auto& x : ba) EXPECT_TRUE(torch::equal(x.value(), bb[x.key()])) << x.key();
}

class TrainerStep : public ::testing::TestWithParam<std::string> {};

// run() logging every step reports exactly what train_step returns on the stream's batches:
// schedule, accumulation, clipping, auxiliary losses, balancing biases and the RNG draws of
// sampled recurrences all happen inside the step.
TEST_P(TrainerStep, RunIsTrainStepOverItsStream) {
  const auto config = byte_config(GetParam());
  const int64_t batch = 4, seq = 16;
  train::TrainSettings settings;
  settings.grad_accumulation = 2;
  settings.tokens = 6 * batch * seq * 2;  // 6 steps
  settings.optimizer.lr = 3e-3;
  settings.schedule.warmup = 2;
  settings.grad_clip = 0.5;
  settings.log_every = 1;
  settings.device = "cpu";
  train::TrainerOptions options;
  options.micro_batch = batch;
  options.progress = false;

  torch::manual_seed(11);
  auto run_model = zoo::build_model(config);
  options.run_dir = temp_dir();
  train::Trainer runner(run_model, std::make_shared<data::ByteTokenizer>(), arithmetic_stream(seq),
                        settings, options);
  std::vector<train::StepMetrics> logged;
  runner.run({[&](const train::StepMetrics& m) { logged.push_back(m); }, nullptr});
  ASSERT_EQ(runner.stop_reason(), train::StopReason::kFinished);
  ASSERT_EQ(logged.size(), 6u);

  torch::manual_seed(11);
  auto step_model = zoo::build_model(config);
  options.run_dir.clear();
  train::Trainer stepper(step_model, seq, settings, options);
  EXPECT_EQ(stepper.total_steps(), 6);
  auto stream = arithmetic_stream(seq);
  for (const auto& m : logged) {
    const auto r =
        stepper.train_step({stream.next_batch(batch).tokens, stream.next_batch(batch).tokens});
    ASSERT_TRUE(r.applied);
    EXPECT_EQ(stepper.step(), m.step);
    EXPECT_EQ(r.loss, m.loss) << "step " << m.step;
    EXPECT_EQ(r.aux.item<double>(), m.aux_loss) << "step " << m.step;
    EXPECT_EQ(r.lr, m.lr) << "step " << m.step;
    EXPECT_EQ(r.grad_norm, m.grad_norm) << "step " << m.step;
  }
  expect_same_weights(*run_model, *step_model);
}

INSTANTIATE_TEST_SUITE_P(Zoo, TrainerStep,
                         ::testing::Values("dreamer_DR_DA_EA", "moe_softmax_aux",
                                           "moe_sigmoid_bias_shared", "huginn_linear"));

TEST(TrainerStep, DivergedStepIsNotTakenAndStreamlessTrainerHasNoRun) {
  torch::manual_seed(0);
  auto model = zoo::build_model(byte_config("dense_llama"));
  auto settings = train::demo_settings(3, 2, 8);
  train::TrainerOptions options;
  options.micro_batch = 2;
  options.progress = false;
  options.divergence_grad_norm = 1e-9;  // every gradient "diverges"
  train::Trainer trainer(model, 8, settings, options);
  const auto before = model->parameters()[0].clone();
  const auto r = trainer.train_step({torch::randint(257, {2, 9}, torch::kLong)});
  EXPECT_FALSE(r.applied);
  EXPECT_EQ(trainer.step(), 0);
  EXPECT_EQ(trainer.stop_reason(), train::StopReason::kDiverged);
  EXPECT_NE(trainer.stop_detail().find("exceeds"), std::string::npos) << trainer.stop_detail();
  EXPECT_TRUE(torch::equal(before, model->parameters()[0]));
  EXPECT_THROW(trainer.run(), std::logic_error);
  EXPECT_THROW(trainer.train_step({}), std::invalid_argument);  // grad_accumulation is 1
}

// The calibration's settings are the run's own, stated where they differ, and its steps are
// the Trainer's: the same seed and tokens give the same losses stepping a Trainer directly.
TEST(Calibration, TrainsTheRunsStepThroughTheTrainer) {
  auto exp = tiny_experiment();
  exp["train"]["grad_accumulation"] = 2;
  exp["train"]["grad_clip"] = 0.25;
  const std::string file = temp_dir() + "/tiny.json";
  std::ofstream(file) << exp.dump();
  const auto plan =
      experiments::plan_experiment(experiments::read_experiment(file), eval::task_search_dirs());
  const auto& run = plan.runs.front();
  const auto settings = experiments::calibration_settings(plan, run, "cpu", 2);
  EXPECT_EQ(settings.optimizer.lr, run.train.optimizer.lr);
  EXPECT_EQ(settings.optimizer.weight_decay, run.train.optimizer.weight_decay);
  EXPECT_EQ(settings.schedule.kind, run.train.schedule.kind);
  EXPECT_EQ(settings.grad_clip, 0.25);
  EXPECT_EQ(settings.precision, run.train.precision);
  EXPECT_EQ(settings.grad_accumulation, 1);  // one micro-batch a step
  EXPECT_EQ(settings.device, "cpu");
  const auto& w = plan.spec.matching.workload;
  EXPECT_EQ(settings.tokens, 3 * w.batch * w.seq_len);  // the warm-up and 2 timed steps

  const auto calibration = experiments::calibrate(plan, run, "cpu", 2);
  EXPECT_GT(calibration.tokens_per_s, 0);
  ASSERT_EQ(calibration.losses.size(), 3u);

  torch::manual_seed(run.seed);
  auto model = zoo::build_model(run.match.config);
  train::TrainerOptions options;
  options.micro_batch = w.batch;
  options.progress = false;
  train::Trainer trainer(model, w.seq_len, settings, options);
  for (const double loss : calibration.losses) {
    const auto tokens = torch::randint(256, {w.batch, w.seq_len + 1}, torch::kLong);
    EXPECT_EQ(trainer.train_step({tokens}).loss, loss);
  }
}

// What the demo prints and saves is the Trainer stepped on demo_batch under demo_settings.
TEST(Demo, TrainsThroughTheTrainer) {
  const std::string dir = temp_dir() + "/demo";
  const auto result = run_cli("demo --steps 12 --batch 4 --seq 16 --seed 3 --save " + dir);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  std::map<int64_t, double> printed;  // "step   10  loss 2.1626"
  std::istringstream lines(result.output);
  for (std::string line; std::getline(lines, line);) {
    long long step = 0;
    double loss = 0;
    if (std::sscanf(line.c_str(), "step %lld loss %lf", &step, &loss) == 2) printed[step] = loss;
  }
  ASSERT_EQ(printed.size(), 3u) << result.output;  // steps 1, 10 and 12

  const auto saved = train::load_checkpoint(dir);
  const int threads = torch::get_num_threads();
  torch::set_num_threads(1);  // as run_cli runs the demo
  torch::manual_seed(3);
  std::mt19937_64 rng(3);
  auto model = zoo::build_model(saved.model->config());
  train::TrainerOptions options;
  options.micro_batch = 4;
  options.progress = false;
  train::Trainer trainer(model, 16, train::demo_settings(12, 4, 16), options);
  for (int64_t step = 1; step <= 12; ++step) {
    const auto r = trainer.train_step({train::demo_batch(rng, 4, 16, 3)});
    ASSERT_TRUE(r.applied);
    if (printed.count(step))
      EXPECT_NEAR(r.loss + r.aux.item<double>(), printed[step], 5e-5) << "step " << step;
  }
  torch::set_num_threads(threads);
  expect_same_weights(*saved.model, *model);
}

}  // namespace
}  // namespace dreamer::testing
