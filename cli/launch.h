#pragma once
// `dreamer run FILE --nproc N`: this command line again as N local worker processes, each with
// torchrun's variables (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR,
// MASTER_PORT), as `torchrun --nproc-per-node N $(which dreamer) run FILE` would start them.
// SIGINT and SIGTERM are passed on to the workers; when one fails, the others get SIGTERM (and
// SIGKILL 30 s later) and the launcher exits with the failed worker's code.
namespace dreamer::cli {

// `threads_given`: the command line sets --threads; otherwise each worker gets cores / N.
int launch_local_workers(int nproc, bool threads_given);

}  // namespace dreamer::cli
