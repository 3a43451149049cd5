#include "train/demo.h"

#include <torch/torch.h>

#include <string>

#include "data/synthetic.h"

namespace dreamer::train {

TrainSettings demo_settings(int64_t steps, int64_t batch, int64_t seq) {
  TrainSettings s;
  s.tokens = steps * batch * seq;  // one micro-batch a step: exactly `steps` steps
  s.grad_accumulation = 1;
  s.optimizer.lr = 3e-3;
  s.optimizer.beta1 = 0.9;
  s.optimizer.beta2 = 0.95;
  s.optimizer.eps = 1e-8;
  s.optimizer.weight_decay = 0.0;
  s.schedule.kind = ScheduleKind::kConstant;
  s.schedule.warmup = 0;
  s.grad_clip = 1.0;
  s.precision = Precision::kFloat32;
  s.device = "cpu";
  return s;
}

at::Tensor demo_batch(std::mt19937_64& rng, int64_t batch, int64_t seq, int task_steps) {
  auto tokens = torch::empty({batch, seq + 1}, torch::kLong);
  auto acc = tokens.accessor<int64_t, 2>();
  for (int64_t b = 0; b < batch; ++b) {
    std::string text;
    while (static_cast<int64_t>(text.size()) < seq + 1) {
      auto ex = data::modular_arithmetic(rng, task_steps);
      text += ex.prompt + ex.answer + "\n";
    }
    for (int64_t t = 0; t <= seq; ++t) acc[b][t] = static_cast<unsigned char>(text[t]);
  }
  return tokens;
}

}  // namespace dreamer::train
