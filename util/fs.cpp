#include "util/fs.h"

#include <dirent.h>
#include <ftw.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace dreamer::fs {

namespace {

std::string error_text(const std::string& op, const std::string& path, int err) {
  return op + " " + path + ": " + std::strerror(err);
}

std::vector<std::string> split(const std::string& p) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i <= p.size()) {
    const size_t j = p.find('/', i);
    const size_t end = j == std::string::npos ? p.size() : j;
    if (end > i) parts.push_back(p.substr(i, end - i));
    if (j == std::string::npos) break;
    i = j + 1;
  }
  return parts;
}

}  // namespace

std::string join(const std::string& a, const std::string& b) {
  if (b.empty()) return a;
  if (a.empty() || is_absolute(b)) return b;
  return a.back() == '/' ? a + b : a + "/" + b;
}

std::string parent_path(const std::string& p) {
  std::string s = p;
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  const size_t slash = s.rfind('/');
  if (slash == std::string::npos) return "";
  if (slash == 0) return "/";
  return s.substr(0, slash);
}

std::string filename(const std::string& p) {
  const size_t slash = p.rfind('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

std::string extension(const std::string& p) {
  const std::string name = filename(p);
  const size_t dot = name.rfind('.');
  if (dot == std::string::npos || dot == 0 || name == "..") return "";
  return name.substr(dot);
}

std::string stem(const std::string& p) {
  const std::string name = filename(p);
  return name.substr(0, name.size() - extension(name).size());
}

bool is_absolute(const std::string& p) {
  return !p.empty() && p.front() == '/';
}

std::string lexically_normal(const std::string& p) {
  if (p.empty()) return p;
  std::vector<std::string> out;
  for (const auto& part : split(p)) {
    if (part == ".") continue;
    if (part == ".." && !out.empty() && out.back() != "..") {
      out.pop_back();
      continue;
    }
    if (part == ".." && is_absolute(p)) continue;  // "/.." is "/"
    out.push_back(part);
  }
  std::string s = is_absolute(p) ? "/" : "";
  for (size_t i = 0; i < out.size(); ++i) s += (i ? "/" : "") + out[i];
  return s.empty() ? "." : s;
}

bool exists(const std::string& p) {
  struct stat st;
  return !p.empty() && ::stat(p.c_str(), &st) == 0;
}

bool is_directory(const std::string& p) {
  struct stat st;
  return !p.empty() && ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool is_regular_file(const std::string& p) {
  struct stat st;
  return !p.empty() && ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

int64_t file_size(const std::string& p) {
  struct stat st;
  if (p.empty() || ::stat(p.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return -1;
  return static_cast<int64_t>(st.st_size);
}

std::vector<std::string> list_directory(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return names;
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

std::string current_directory() {
  char buf[PATH_MAX];
  if (!::getcwd(buf, sizeof buf)) throw std::runtime_error(error_text("getcwd", ".", errno));
  return buf;
}

std::string absolute(const std::string& p) {
  return lexically_normal(is_absolute(p) ? p : join(current_directory(), p));
}

std::string weakly_canonical(const std::string& p) {
  const std::string abs = absolute(p);
  // Walk up to the longest prefix that exists, resolve it, re-append the rest.
  std::string head = abs, tail;
  while (!head.empty() && head != "/" && !exists(head)) {
    tail = tail.empty() ? filename(head) : join(filename(head), tail);
    head = parent_path(head);
  }
  char buf[PATH_MAX];
  const std::string real = ::realpath(head.c_str(), buf) ? std::string(buf) : head;
  return lexically_normal(join(real, tail));
}

std::string temp_directory() {
  const char* t = std::getenv("TMPDIR");
  return t && *t ? std::string(t) : std::string("/tmp");
}

std::string try_create_directories(const std::string& p) {
  if (p.empty()) return "create directory: empty path";
  if (is_directory(p)) return "";
  const std::string parent = parent_path(p);
  if (!parent.empty() && parent != p) {
    const std::string e = try_create_directories(parent);
    if (!e.empty()) return e;
  }
  if (::mkdir(p.c_str(), 0777) != 0 && !(errno == EEXIST && is_directory(p)))
    return error_text("create directory", p, errno);
  return "";
}

void create_directories(const std::string& p) {
  const std::string e = try_create_directories(p);
  if (!e.empty()) throw std::runtime_error(e);
}

namespace {
int remove_entry(const char* path, const struct stat*, int, struct FTW*) {
  return ::remove(path) == 0 ? 0 : errno;
}
}  // namespace

std::string try_remove_all(const std::string& p) {
  struct stat st;
  if (p.empty() || ::lstat(p.c_str(), &st) != 0) return "";  // nothing there
  // Depth first, never following symbolic links out of the tree.
  const int rc = ::nftw(p.c_str(), remove_entry, 16, FTW_DEPTH | FTW_PHYS);
  if (rc != 0) return error_text("remove", p, rc > 0 ? rc : errno);
  return "";
}

void remove_all(const std::string& p) {
  const std::string e = try_remove_all(p);
  if (!e.empty()) throw std::runtime_error(e);
}

void rename(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0)
    throw std::runtime_error(error_text("rename", from + " to " + to, errno));
}

}  // namespace dreamer::fs
