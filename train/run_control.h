#pragma once
// How a training process is stopped from outside, and where tests aim their kills.
//
// Stop signals: after install_stop_handlers(), the first SIGINT or SIGTERM only sets a flag that
// the trainer reads at every step boundary (it then writes a checkpoint and returns); a second
// one ends the process at once with _exit(128 + signal). Every write the project makes is atomic
// (checkpoint directories are renamed into place, database writes are transactions), so an
// immediate exit loses at most the work since the last checkpoint, never corrupts it.
//
// Test points: named places in the run lifecycle (see docs/EXPERIMENTS.md). With
// DREAMER_TEST_KILL_AT=NAME[@N][:SIGNAL][,...] in the environment, the process sends itself SIGNAL
// (default SIGKILL) the N-th time (default 1st) it reaches NAME: the crash-test harness uses it to
// aim kills at checkpoint writes and evaluation, and signal tests to aim a SIGINT. In-process
// tests can set a hook instead. The points: "step" (after each optimizer step),
// "checkpoint-begin", "checkpoint-write" (every buffer written to a checkpoint file),
// "checkpoint-before-rename", "checkpoint-renamed", "eval-task" (before each task's
// evaluation), "eval-stored" (after its scores are stored).
#include <functional>
#include <string>

namespace dreamer::train {

void install_stop_handlers();
// The signal that asked the process to stop (SIGINT, SIGTERM), 0 when none has.
int stop_requested();
// As if `signal` had arrived once (tests); 0 clears the request.
void request_stop(int signal);

// Called at every named point; a no-op unless DREAMER_TEST_KILL_AT or a hook names it.
void test_point(const std::string& name);
// In-process tests: called with every point's name (nullptr removes it). Not thread-safe.
void set_test_point_hook(std::function<void(const std::string&)> hook);

}  // namespace dreamer::train
