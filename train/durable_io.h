#pragma once
// Crash-safe file writes for checkpoints: every file is written through a descriptor, fsynced
// and closed before the directory holding it is renamed into place, and the parent directory is
// fsynced after the rename, so after a power loss or a kill a checkpoint directory either exists
// whole or not at all. Every failure is an InputError naming the path and the operating
// system's cause ("no space left on device"), never a bare c10::Error.
#include <cstddef>
#include <string>

namespace dreamer::train {

// The operating system's reason for errno `error`, lower-cased ("no space left on device").
std::string os_cause(int error);

// A file opened for writing (created or truncated). write() never throws and never writes short
// (LibTorch's serializer calls it through a callback and aborts on a short write); the first
// failure is kept, later bytes are dropped, and finish() throws it.
class DurableFile {
 public:
  explicit DurableFile(std::string path);
  ~DurableFile();
  DurableFile(const DurableFile&) = delete;
  DurableFile& operator=(const DurableFile&) = delete;

  // Returns `n`, also after a failure (see above).
  size_t write(const void* data, size_t n);
  // fsync and close; throws InputError(path, "cannot write: CAUSE") for any failure so far.
  void finish();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
  int error_ = 0;
  std::string failed_op_;
};

// Writes `text` to `path` durably (DurableFile).
void write_file_durably(const std::string& path, const std::string& text);
// mkdir; an existing directory is fine. InputError(path, cause) otherwise.
void make_directory(const std::string& path);
// fsync of a directory (after creating or renaming entries in it).
void sync_directory(const std::string& path);
// rm -rf; a missing path is fine. InputError(path, cause) otherwise.
void remove_tree(const std::string& path);
// mkdir -p. InputError naming the path and the cause.
void make_directories(const std::string& path);
// rename(2) then fsync of the destination's parent directory.
void rename_durably(const std::string& from, const std::string& to);

}  // namespace dreamer::train
