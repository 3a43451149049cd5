#include "train/durable_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>

#include "train/run_control.h"
#include "util/errors.h"
#include "util/fs.h"

namespace dreamer::train {

namespace {

std::string parent_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

std::string os_cause(int error) {
  std::string cause = std::strerror(error);
  if (!cause.empty())
    cause[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(cause[0])));
  return cause;
}

DurableFile::DurableFile(std::string path) : path_(std::move(path)) {
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) error_ = errno, failed_op_ = "cannot create";
}

DurableFile::~DurableFile() {
  if (fd_ >= 0) ::close(fd_);
}

size_t DurableFile::write(const void* data, size_t n) {
  // After a failure the bytes are dropped but reported as written: LibTorch's stream writer
  // throws from its destructor (std::terminate) when its callback writes short, so the error
  // waits for finish() instead.
  if (error_ != 0) return n;
  test_point("checkpoint-write");
  const char* p = static_cast<const char*>(data);
  size_t left = n;
  while (left > 0) {
    const ssize_t done = ::write(fd_, p, left);
    if (done < 0) {
      if (errno == EINTR) continue;
      error_ = errno, failed_op_ = "cannot write";
      return n;
    }
    p += done;
    left -= static_cast<size_t>(done);
  }
  return n;
}

void DurableFile::finish() {
  if (error_ == 0 && ::fsync(fd_) != 0) error_ = errno, failed_op_ = "cannot write (fsync)";
  if (fd_ >= 0 && ::close(fd_) != 0 && error_ == 0)
    error_ = errno, failed_op_ = "cannot write (close)";
  fd_ = -1;
  if (error_ != 0) throw InputError(path_, failed_op_ + ": " + os_cause(error_));
}

void write_file_durably(const std::string& path, const std::string& text) {
  DurableFile file(path);
  file.write(text.data(), text.size());
  file.finish();
}

void make_directory(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) == 0) return;
  const int error = errno;
  struct stat st {};
  if (error == EEXIST && ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return;
  throw InputError(path, "cannot create the directory: " + os_cause(error));
}

void remove_tree(const std::string& path) {
  if (const auto error = fs::try_remove_all(path); !error.empty())
    throw InputError(path, "cannot remove (" + error + ")");
}

void make_directories(const std::string& path) {
  if (const auto error = fs::try_create_directories(path); !error.empty())
    throw InputError(path, "cannot create the directory (" + error + ")");
}

void sync_directory(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw InputError(path, "cannot open the directory to sync it: " + os_cause(errno));
  const int rc = ::fsync(fd);
  const int error = errno;
  ::close(fd);
  if (rc != 0) throw InputError(path, "cannot sync the directory: " + os_cause(error));
}

void rename_durably(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0)
    throw InputError(from, "cannot rename to " + to + ": " + os_cause(errno));
  sync_directory(parent_of(to));
}

}  // namespace dreamer::train
