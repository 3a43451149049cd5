#pragma once
// Data-parallel training over torch.distributed's C++ core (c10d): the process group, gradient
// all-reduce in buckets overlapped with backward, keeping buffers identical, and which rows of a
// global batch a rank trains on.
//
// Workers start the way torchrun starts them: RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and
// MASTER_PORT in the environment. Rank 0 serves a c10d::TCPStore at MASTER_ADDR:MASTER_PORT;
// every rank meets there. Collectives on CPU tensors go through Gloo, on CUDA tensors through
// NCCL; each backend exists only in builds that found its headers (CMakeLists.txt defines
// DREAMER_WITH_GLOO / DREAMER_WITH_NCCL for distributed.cpp alone), so the rest of the tree
// builds without any. Every collective waits at most the group's timeout: a rank that died or
// hangs makes the others fail with an InputError saying so, never wait for ever.
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace dreamer::train {

// torchrun's variables. A process without WORLD_SIZE (or with WORLD_SIZE=1) is a single one.
struct DistEnv {
  int rank = 0, world_size = 1, local_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  bool distributed() const { return world_size > 1; }
  // Malformed or inconsistent values are InputErrors naming the variable.
  static DistEnv from_environment();
};

// Which backends this build has ("gloo", "nccl"), for `dreamer doctor` and error messages.
std::vector<std::string> available_backends();

class ProcessGroup {
 public:
  // Rendezvous (blocks until every rank has arrived, at most `timeout`).
  static std::shared_ptr<ProcessGroup> connect(const DistEnv& env,
                                               std::chrono::milliseconds timeout);
  ~ProcessGroup();

  int rank() const { return env_.rank; }
  int size() const { return env_.world_size; }
  const DistEnv& env() const { return env_; }
  std::chrono::milliseconds timeout() const { return timeout_; }

  // In-place sum over ranks, blocking. The backend follows the tensor's device.
  void all_reduce_sum(at::Tensor& tensor);
  // Starts an in-place sum; wait() finishes it (PendingReduce::wait).
  class PendingReduce;
  std::unique_ptr<PendingReduce> all_reduce_sum_async(at::Tensor& tensor);
  // In place: rank `root`'s values on every rank.
  void broadcast(at::Tensor& tensor, int root = 0);
  // Rank 0 says it passed this point; the others wait for it up to `timeout` (longer than a
  // collective's: rank 0 evaluates checkpoints while the others wait). Through the store, whose
  // waits honour their own timeout; a dead rank 0 (the store's server) fails them at once.
  void rank0_passed(const std::string& name, std::chrono::milliseconds timeout);
  // The last call of a worker: rank 0 (whose process serves the store) waits until every other
  // rank has said it is done, so none loses the store while still using it.
  void finish_together();
  // Rank 0 publishes a value under `key`; the other ranks read it (waiting up to the timeout).
  void publish(const std::string& key, const std::string& value);
  std::string read_published(const std::string& key);

  struct Impl;

 private:
  ProcessGroup(DistEnv env, std::chrono::milliseconds timeout);
  DistEnv env_;
  std::chrono::milliseconds timeout_;
  int64_t sync_points_ = 0;  // rank0_passed calls so far: the same sequence on every rank
  std::unique_ptr<Impl> impl_;
};

class ProcessGroup::PendingReduce {
 public:
  virtual ~PendingReduce() = default;
  virtual void wait() = 0;
};

// Averages gradients over the ranks while backward runs: parameters are grouped into buckets
// of about `bucket_bytes` in reverse registration order (roughly the order backward produces
// their gradients); an autograd post-hook on each parameter's gradient accumulator counts the
// bucket down, and a full bucket is flattened and its all-reduce started. Buckets start in
// index order on every rank (collectives must be issued in the same order everywhere), and
// finish() starts the ones whose parameters got no gradient this step (zeros), waits for all
// and writes the means back into .grad. Only the backward between arm() and finish() is
// reduced, so gradient accumulation communicates once per optimizer step.
class GradientSync {
 public:
  GradientSync(std::shared_ptr<ProcessGroup> group, std::vector<at::Tensor> params,
               int64_t bucket_bytes = 25 << 20);
  ~GradientSync();
  void arm();
  void finish();
  int64_t buckets() const;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

// Buffers that forward passes change (an expert router's load counts) must end every step the
// same on every rank, and the same as one process that saw the whole batch: begin_step()
// remembers them, reduce_changes() replaces each by its value then plus the sum of every
// rank's change since. That is exact for counters (the only kind the models have) and leaves
// constant buffers untouched. Call reduce_changes() before model.after_optimizer_step(), which
// then updates (balancing biases) identically everywhere.
class BufferSync {
 public:
  BufferSync(std::shared_ptr<ProcessGroup> group, std::vector<at::Tensor> buffers);
  void begin_step();
  void reduce_changes();

 private:
  std::shared_ptr<ProcessGroup> group_;
  std::vector<at::Tensor> buffers_;  // floating point only
  std::vector<at::Tensor> before_;
};

// Every tensor of `tensors` set to rank 0's values (the starting weights, as DDP does).
void broadcast_from_rank0(ProcessGroup& group, const std::vector<at::Tensor>& tensors);

// The rows [rank * B/N, (rank + 1) * B/N) of a global batch [B, ...]: every rank draws the same
// global batch from the same stream, so N ranks together train on exactly the rows one process
// would. B must be divisible by N (InputError naming workload.batch otherwise).
at::Tensor rank_rows(const at::Tensor& global_batch, int rank, int world_size);
void check_batch_divisible(int64_t batch, int world_size);

}  // namespace dreamer::train
