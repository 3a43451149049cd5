#include "train/distributed.h"

#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/variable.h>
#include <torch/torch.h>
#include <torch/version.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

// CMakeLists.txt defines these for this file only, where it found the backends' headers.
#if DREAMER_WITH_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#if DREAMER_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <cstdlib>
#include <mutex>
#include <sstream>

#include "util/errors.h"

namespace dreamer::train {

namespace {

// LibTorch 2.0 split c10d::ProcessGroup into a dispatcher and per-device c10d::Backend
// objects; the backends (Gloo, NCCL) derive from Backend there and from ProcessGroup in 1.x.
// Both expose the same allreduce/broadcast/barrier calls.
#if TORCH_VERSION_MAJOR >= 2
using BackendBase = c10d::Backend;
#else
using BackendBase = c10d::ProcessGroup;
#endif

int env_int(const char* name, int fallback, int min) {
  const char* text = std::getenv(name);
  if (!text || !*text) return fallback;
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  require(*end == '\0' && value >= min && value <= 1 << 20,
          std::string("environment variable ") + name,
          "expected an integer >= " + std::to_string(min) + ", got \"" + text + "\"");
  return static_cast<int>(value);
}

std::string error_text(const std::exception& e) {
  if (const auto* c10 = dynamic_cast<const c10::Error*>(&e)) return c10->what_without_backtrace();
  return e.what();
}

}  // namespace

DistEnv DistEnv::from_environment() {
  DistEnv env;
  env.world_size = env_int("WORLD_SIZE", 1, 1);
  env.rank = env_int("RANK", 0, 0);
  env.local_rank = env_int("LOCAL_RANK", env.rank, 0);
  if (const char* addr = std::getenv("MASTER_ADDR"); addr && *addr) env.master_addr = addr;
  env.master_port = env_int("MASTER_PORT", env.master_port, 1);
  require(env.master_port <= 65535, "environment variable MASTER_PORT",
          "expected a port from 1 to 65535, got " + std::to_string(env.master_port));
  require(env.rank < env.world_size, "environment variable RANK",
          "is " + std::to_string(env.rank) + " but WORLD_SIZE is " +
              std::to_string(env.world_size) + " (ranks are 0 to WORLD_SIZE - 1)");
  if (env.distributed())
    require(std::getenv("RANK") != nullptr, "environment variable RANK",
            "is not set but WORLD_SIZE is " + std::to_string(env.world_size) +
                " (start workers with torchrun, srun or dreamer run --nproc N)");
  return env;
}

std::vector<std::string> available_backends() {
  std::vector<std::string> names;
#if DREAMER_WITH_GLOO
  names.push_back("gloo");
#endif
#if DREAMER_WITH_NCCL
  names.push_back("nccl");
#endif
  return names;
}

struct ProcessGroup::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<BackendBase> gloo, nccl;
  std::string where;  // "distributed rank R of N" for messages

  // The backend for tensors on `device`, created on first use (every rank takes the same code
  // path, so they create it together).
  BackendBase& backend(const c10::Device& device, int rank, int size,
                       std::chrono::milliseconds timeout) {
    if (device.is_cuda()) {
#if DREAMER_WITH_NCCL
      if (!nccl) {
        auto options = c10d::ProcessGroupNCCL::Options::create();
        options->timeout = timeout;
        nccl = c10::make_intrusive<c10d::ProcessGroupNCCL>(
            c10::make_intrusive<c10d::PrefixStore>("nccl", store), rank, size, options);
      }
      return *nccl;
#else
      throw InputError(where,
                       "CUDA tensors need NCCL, and this build has none (built without "
                       "the NCCL headers; see docs/DISTRIBUTED.md)");
#endif
    }
#if DREAMER_WITH_GLOO
    if (!gloo) {
      auto options = c10d::ProcessGroupGloo::Options::create(timeout);
      // As torch.distributed does: the interface GLOO_SOCKET_IFNAME names, else the address the
      // host name resolves to (loopback when it resolves to none).
      const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
      options->devices.push_back(ifname && *ifname
                                     ? c10d::ProcessGroupGloo::createDeviceForInterface(ifname)
                                     : c10d::ProcessGroupGloo::createDefaultDevice());
      gloo = c10::make_intrusive<c10d::ProcessGroupGloo>(
          c10::make_intrusive<c10d::PrefixStore>("gloo", store), rank, size, options);
    }
    return *gloo;
#else
    throw InputError(where,
                     "CPU tensors need Gloo, and this build has none (built without the "
                     "gloo headers: apt-get install libgloo-dev; see docs/DISTRIBUTED.md)");
#endif
  }

  // Waits for `work`; a failure (a peer that exited, a timeout) becomes one clear InputError.
  void wait(const c10::intrusive_ptr<c10d::Work>& work, const std::string& what,
            std::chrono::milliseconds timeout) {
    try {
      work->wait();
    } catch (const std::exception& e) {
      fail(what, e, timeout);
    }
  }
  [[noreturn]] void fail(const std::string& what, const std::exception& e,
                         std::chrono::milliseconds timeout) {
    std::ostringstream message;
    message << what << " failed: another rank exited or did not answer within "
            << timeout.count() / 1000.0 << " s (" << error_text(e) << ")";
    throw InputError(where, message.str());
  }
};

ProcessGroup::ProcessGroup(DistEnv env, std::chrono::milliseconds timeout)
    : env_(std::move(env)), timeout_(timeout), impl_(new Impl) {
  impl_->where =
      "distributed rank " + std::to_string(env_.rank) + " of " + std::to_string(env_.world_size);
}

ProcessGroup::~ProcessGroup() = default;

std::shared_ptr<ProcessGroup> ProcessGroup::connect(const DistEnv& env,
                                                    std::chrono::milliseconds timeout) {
  require(env.distributed(), "WORLD_SIZE", "a process group needs at least two processes");
  require(!available_backends().empty(), "environment variable WORLD_SIZE",
          "is " + std::to_string(env.world_size) +
              ", but this build has no distributed backend (neither the gloo nor the NCCL "
              "headers were found at configure time; docs/DISTRIBUTED.md)");
  std::shared_ptr<ProcessGroup> group(new ProcessGroup(env, timeout));
  c10d::TCPStoreOptions options;
  options.port = static_cast<uint16_t>(env.master_port);
  options.numWorkers = static_cast<size_t>(env.world_size);
  options.waitWorkers = true;
  options.timeout = timeout;
  // torchrun (2.x) already serves the store at MASTER_ADDR:MASTER_PORT and says so; every
  // worker then connects as a client under the attempt's prefix, as torch.distributed does.
  const char* agent = std::getenv("TORCHELASTIC_USE_AGENT_STORE");
  const bool agent_store = agent && std::string(agent) == "True";
  options.isServer = !agent_store && env.rank == 0;
  try {
    c10::intrusive_ptr<c10d::Store> store =
        c10::make_intrusive<c10d::TCPStore>(env.master_addr, options);
    if (agent_store) {
      const char* restart = std::getenv("TORCHELASTIC_RESTART_COUNT");
      store = c10::make_intrusive<c10d::PrefixStore>(
          "/worker/attempt_" + std::string(restart && *restart ? restart : "0"), store);
    }
    group->impl_->store = store;
  } catch (const std::exception& e) {
    throw InputError(group->impl_->where,
                     "rendezvous at " + env.master_addr + ":" + std::to_string(env.master_port) +
                         " failed (every rank must start within " +
                         std::to_string(timeout.count() / 1000) + " s): " + error_text(e));
  }
  return group;
}

void ProcessGroup::all_reduce_sum(at::Tensor& tensor) {
  all_reduce_sum_async(tensor)->wait();
}

namespace {
class Pending : public ProcessGroup::PendingReduce {
 public:
  Pending(ProcessGroup::Impl& impl, c10::intrusive_ptr<c10d::Work> work,
          std::chrono::milliseconds timeout)
      : impl_(impl), work_(std::move(work)), timeout_(timeout) {}
  void wait() override {
    if (work_) impl_.wait(work_, "all-reduce", timeout_);
    work_.reset();
  }

 private:
  ProcessGroup::Impl& impl_;
  c10::intrusive_ptr<c10d::Work> work_;
  std::chrono::milliseconds timeout_;
};
}  // namespace

std::unique_ptr<ProcessGroup::PendingReduce> ProcessGroup::all_reduce_sum_async(
    at::Tensor& tensor) {
  auto& backend = impl_->backend(tensor.device(), rank(), size(), timeout_);
  std::vector<at::Tensor> tensors = {tensor};
  c10d::AllreduceOptions options;
  options.reduceOp = c10d::ReduceOp::SUM;
  options.timeout = timeout_;
  try {
    return std::make_unique<Pending>(*impl_, backend.allreduce(tensors, options), timeout_);
  } catch (const std::exception& e) {
    impl_->fail("all-reduce", e, timeout_);
  }
}

void ProcessGroup::broadcast(at::Tensor& tensor, int root) {
  auto& backend = impl_->backend(tensor.device(), rank(), size(), timeout_);
  std::vector<at::Tensor> tensors = {tensor};
  c10d::BroadcastOptions options;
  options.rootRank = root;
  options.timeout = timeout_;
  try {
    impl_->wait(backend.broadcast(tensors, options), "broadcast", timeout_);
  } catch (const InputError&) {
    throw;
  } catch (const std::exception& e) {
    impl_->fail("broadcast", e, timeout_);
  }
}

void ProcessGroup::rank0_passed(const std::string& name, std::chrono::milliseconds timeout) {
  const std::string key = "dreamer/sync/" + std::to_string(sync_points_++) + "/" + name;
  try {
    if (rank() == 0)
      impl_->store->set(key, std::vector<uint8_t>{1});
    else
      impl_->store->wait({key}, timeout);
  } catch (const std::exception& e) {
    impl_->fail("waiting for rank 0 at " + name, e, timeout);
  }
}

void ProcessGroup::finish_together() {
  try {
    if (rank() != 0) {
      impl_->store->set("dreamer/finished/" + std::to_string(rank()), std::vector<uint8_t>{1});
      return;
    }
    std::vector<std::string> keys;
    for (int r = 1; r < size(); ++r) keys.push_back("dreamer/finished/" + std::to_string(r));
    impl_->store->wait(keys, timeout_);
  } catch (const std::exception& e) {
    impl_->fail("waiting for every rank to finish", e, timeout_);
  }
}

void ProcessGroup::publish(const std::string& key, const std::string& value) {
  impl_->store->set("dreamer/" + key, std::vector<uint8_t>(value.begin(), value.end()));
}

std::string ProcessGroup::read_published(const std::string& key) {
  try {
    const auto bytes = impl_->store->get("dreamer/" + key);
    return std::string(bytes.begin(), bytes.end());
  } catch (const std::exception& e) {
    impl_->fail("waiting for rank 0's \"" + key + "\"", e, timeout_);
  }
}

// ------------------------------------------------------------------------------ GradientSync

struct GradientSync::State {
  struct Bucket {
    std::vector<size_t> members;  // parameter indices
    int64_t pending = 0;          // members whose gradient is not final yet this backward
    at::Tensor flat;
    std::unique_ptr<ProcessGroup::PendingReduce> work;
  };
  std::shared_ptr<ProcessGroup> group;
  std::vector<at::Tensor> params;
  std::vector<Bucket> buckets;
  std::vector<size_t> bucket_of;
  std::vector<char> ready;
  // Keeps each parameter's gradient accumulator, and so its hook, alive between backwards.
  std::vector<std::shared_ptr<torch::autograd::Node>> accumulators;
  size_t next_to_start = 0;
  bool armed = false;
  std::mutex mutex;

  void reset_counts() {
    for (auto& b : buckets) b.pending = static_cast<int64_t>(b.members.size());
    std::fill(ready.begin(), ready.end(), 0);
    next_to_start = 0;
  }

  // Called (under the mutex) when parameter i's gradient is final for this backward.
  void on_ready(size_t i) {
    if (!armed || ready[i]) return;
    ready[i] = 1;
    --buckets[bucket_of[i]].pending;
    while (next_to_start < buckets.size() && buckets[next_to_start].pending == 0)
      start(buckets[next_to_start++]);
  }

  void start(Bucket& b) {
    std::vector<at::Tensor> pieces;
    for (const auto i : b.members) {
      const auto& g = params[i].grad();
      pieces.push_back(g.defined() ? g.reshape(-1)
                                   : torch::zeros({params[i].numel()}, params[i].options()));
    }
    b.flat = torch::cat(pieces);
    b.work = group->all_reduce_sum_async(b.flat);
  }
};

namespace {
// Runs after a parameter's AccumulateGrad node: its .grad holds this backward's total.
struct ReadyHook : torch::autograd::FunctionPostHook {
  ReadyHook(std::weak_ptr<GradientSync::State> state, size_t index)
      : state_(std::move(state)), index_(index) {}
  torch::autograd::variable_list operator()(const torch::autograd::variable_list& outputs,
                                            const torch::autograd::variable_list&) override {
    if (auto state = state_.lock()) {
      std::lock_guard<std::mutex> lock(state->mutex);
      state->on_ready(index_);
    }
    return outputs;
  }
  std::weak_ptr<GradientSync::State> state_;
  size_t index_;
};
}  // namespace

GradientSync::GradientSync(std::shared_ptr<ProcessGroup> group, std::vector<at::Tensor> params,
                           int64_t bucket_bytes)
    : state_(std::make_shared<State>()) {
  auto& s = *state_;
  s.group = std::move(group);
  for (auto& p : params)
    if (p.requires_grad()) s.params.push_back(p);
  s.bucket_of.resize(s.params.size());
  s.ready.resize(s.params.size());
  // Reverse order: the output side's gradients are ready first.
  int64_t bytes = 0;
  for (size_t k = s.params.size(); k-- > 0;) {
    const auto& p = s.params[k];
    const int64_t size = p.numel() * static_cast<int64_t>(p.element_size());
    const bool fits = !s.buckets.empty() && bytes + size <= bucket_bytes &&
                      s.params[s.buckets.back().members.front()].dtype() == p.dtype() &&
                      s.params[s.buckets.back().members.front()].device() == p.device();
    if (!fits) s.buckets.emplace_back(), bytes = 0;
    s.buckets.back().members.push_back(k);
    s.bucket_of[k] = s.buckets.size() - 1;
    bytes += size;
  }
  s.reset_counts();
  for (size_t k = 0; k < s.params.size(); ++k) {
    auto accumulator = torch::autograd::impl::grad_accumulator(s.params[k]);
    accumulator->add_post_hook(std::make_unique<ReadyHook>(state_, k));
    s.accumulators.push_back(std::move(accumulator));
  }
}

GradientSync::~GradientSync() {
  std::lock_guard<std::mutex> lock(state_->mutex);
  state_->armed = false;
}

int64_t GradientSync::buckets() const {
  return static_cast<int64_t>(state_->buckets.size());
}

void GradientSync::arm() {
  std::lock_guard<std::mutex> lock(state_->mutex);
  state_->reset_counts();
  state_->armed = true;
}

void GradientSync::finish() {
  auto& s = *state_;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    s.armed = false;
    // Parameters no forward used this step (or only an earlier micro-batch did): their .grad
    // is already final, so their buckets start now, still in index order.
    while (s.next_to_start < s.buckets.size()) s.start(s.buckets[s.next_to_start++]);
  }
  const double world = static_cast<double>(s.group->size());
  for (auto& b : s.buckets) {
    b.work->wait();
    b.work.reset();
    b.flat.div_(world);
    int64_t offset = 0;
    for (const auto i : b.members) {
      auto& p = s.params[i];
      auto mean = b.flat.narrow(0, offset, p.numel()).view(p.sizes());
      offset += p.numel();
      if (p.grad().defined())
        p.mutable_grad().copy_(mean);
      else
        p.mutable_grad() = mean.clone();
    }
    b.flat = at::Tensor();
  }
}

// -------------------------------------------------------------------------------- BufferSync

BufferSync::BufferSync(std::shared_ptr<ProcessGroup> group, std::vector<at::Tensor> buffers)
    : group_(std::move(group)) {
  for (auto& b : buffers)
    if (b.is_floating_point()) buffers_.push_back(b);
}

void BufferSync::begin_step() {
  torch::NoGradGuard no_grad;
  before_.clear();
  for (const auto& b : buffers_) before_.push_back(b.clone());
}

void BufferSync::reduce_changes() {
  torch::NoGradGuard no_grad;
  if (buffers_.empty()) return;
  // One all-reduce per dtype (float32 in practice).
  std::vector<char> done(buffers_.size(), 0);
  for (size_t first = 0; first < buffers_.size(); ++first) {
    if (done[first]) continue;
    std::vector<size_t> group;
    std::vector<at::Tensor> deltas;
    for (size_t i = first; i < buffers_.size(); ++i)
      if (!done[i] && buffers_[i].dtype() == buffers_[first].dtype() &&
          buffers_[i].device() == buffers_[first].device()) {
        done[i] = 1;
        group.push_back(i);
        deltas.push_back((buffers_[i] - before_[i]).reshape(-1));
      }
    auto flat = torch::cat(deltas);
    group_->all_reduce_sum(flat);
    int64_t offset = 0;
    for (const auto i : group) {
      auto& b = buffers_[i];
      b.copy_(before_[i] + flat.narrow(0, offset, b.numel()).view(b.sizes()));
      offset += b.numel();
    }
  }
}

void broadcast_from_rank0(ProcessGroup& group, const std::vector<at::Tensor>& tensors) {
  torch::NoGradGuard no_grad;
  for (auto t : tensors) {
    auto contiguous = t.contiguous();
    group.broadcast(contiguous, 0);
    if (!contiguous.is_same(t)) t.copy_(contiguous);
  }
}

void check_batch_divisible(int64_t batch, int world_size) {
  require(batch % world_size == 0, "workload.batch",
          "is " + std::to_string(batch) + ", not divisible by the " + std::to_string(world_size) +
              " processes (it is the global batch: each process trains on batch / processes "
              "rows)");
}

at::Tensor rank_rows(const at::Tensor& global_batch, int rank, int world_size) {
  const int64_t batch = global_batch.size(0);
  check_batch_divisible(batch, world_size);
  const int64_t rows = batch / world_size;
  return global_batch.narrow(0, rank * rows, rows);
}

}  // namespace dreamer::train
