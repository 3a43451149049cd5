#include "results/sqlite.h"

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <thread>

#include "util/errors.h"

namespace dreamer::results {

namespace {

std::atomic<double> g_lock_timeout_s{120};

std::string format_seconds(double s) {
  char text[32];
  std::snprintf(text, sizeof text, "%g s", s);
  return text;
}

// Why the last call on `db` failed: sqlite's message, plus what the OS said for I/O errors and
// what to do about a lock that was held too long.
std::string cause(sqlite3* db, const std::string& message, double timeout_s) {
  std::string text = message;
  const int code = sqlite3_extended_errcode(db) & 0xff;
  if (code == SQLITE_BUSY || code == SQLITE_LOCKED)
    text += " (another process held the lock for more than " + format_seconds(timeout_s) +
            "; wait longer with --db-timeout SECONDS)";
  if (code == SQLITE_IOERR || code == SQLITE_CANTOPEN || code == SQLITE_FULL) {
    const int os_error = sqlite3_system_errno(db);
    if (os_error != 0) text += std::string(" (") + std::strerror(os_error) + ")";
  }
  return text;
}

// The directory a new database file would be created in ("." for a bare name).
std::string parent_directory(const std::string& file) {
  const auto slash = file.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : file.substr(0, slash);
}

// Clear errors for the paths SQLite would otherwise accept silently or reject vaguely.
void check_path(const std::string& file) {
  if (file.empty() || file == ":memory:")
    throw InputError("--db", std::string(file.empty() ? "empty path" : "\":memory:\"") +
                                 ": expected a results database file (SQLite would keep the "
                                 "results in a temporary database and discard them at exit)");
  struct stat info {};
  if (stat(file.c_str(), &info) == 0) {
    if (S_ISDIR(info.st_mode))
      throw InputError(file, "is a directory (expected an SQLite results database file)");
    return;
  }
  const std::string dir = parent_directory(file);
  if (stat(dir.c_str(), &info) != 0)
    throw InputError(file, "cannot create the results database: directory \"" + dir +
                               "\" does not exist (" + std::strerror(errno) + ")");
  if (!S_ISDIR(info.st_mode))
    throw InputError(file,
                     "cannot create the results database: \"" + dir + "\" is not a directory");
}

}  // namespace

void set_lock_timeout_seconds(double seconds) {
  g_lock_timeout_s = std::max(0.0, seconds);
}
double lock_timeout_seconds() {
  return g_lock_timeout_s;
}

Database::Database(const std::string& file) : file_(file), timeout_s_(lock_timeout_seconds()) {
  check_path(file);
  if (sqlite3_open_v2(file.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
      SQLITE_OK) {
    const std::string message =
        db_ ? cause(db_, sqlite3_errmsg(db_), timeout_s_) : std::string("out of memory");
    sqlite3_close(db_);
    db_ = nullptr;
    throw InputError(file, "cannot open the results database: " + message);
  }
  sqlite3_busy_handler(db_, &Database::on_busy, this);
}

Database::~Database() {
  sqlite3_close(db_);
}

// sqlite calls this while a lock it needs is held elsewhere; `attempts` restarts at 0 for each
// new wait. Returning 0 gives up (the call fails with SQLITE_BUSY).
int Database::on_busy(void* self, int attempts) {
  auto& db = *static_cast<Database*>(self);
  const auto now = std::chrono::steady_clock::now();
  if (attempts == 0) db.busy_since_ = now;
  const double waited = std::chrono::duration<double>(now - db.busy_since_).count();
  if (waited >= db.timeout_s_) return 0;
  if (waited >= 5 && !db.told_waiting_) {
    std::cerr << db.file_ << ": waiting for another process's lock on the database (up to "
              << format_seconds(db.timeout_s_) << ", --db-timeout)" << std::endl;
    db.told_waiting_ = true;
  }
  const double pause_s =
      std::min({0.001 * (1 << std::min(attempts, 8)), 0.25, db.timeout_s_ - waited});
  std::this_thread::sleep_for(std::chrono::duration<double>(pause_s));
  return 1;
}

void Database::fail(const std::string& what) const {
  throw InputError(file_, what + ": " + cause(db_, sqlite3_errmsg(db_), timeout_s_));
}

void Database::exec(const std::string& sql) {
  char* error = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
    const std::string message = error ? error : "unknown error";
    sqlite3_free(error);
    throw InputError(file_, cause(db_, message, timeout_s_) + " (in: " + sql.substr(0, 80) + ")");
  }
}

Statement::Statement(Database& db, const std::string& sql) : db_(db) {
  if (sqlite3_prepare_v2(db.handle(), sql.c_str(), -1, &stmt_, nullptr) != SQLITE_OK)
    db.fail("cannot prepare \"" + sql.substr(0, 80) + "\"");
}

Statement::~Statement() {
  sqlite3_finalize(stmt_);
}

Statement& Statement::bind(int index, const std::string& value) {
  if (sqlite3_bind_text(stmt_, index, value.c_str(), static_cast<int>(value.size()),
                        SQLITE_TRANSIENT) != SQLITE_OK)
    db_.fail("bind");
  return *this;
}
Statement& Statement::bind(int index, int64_t value) {
  if (sqlite3_bind_int64(stmt_, index, value) != SQLITE_OK) db_.fail("bind");
  return *this;
}
Statement& Statement::bind(int index, double value) {
  if (sqlite3_bind_double(stmt_, index, value) != SQLITE_OK) db_.fail("bind");
  return *this;
}
Statement& Statement::bind(int index, const std::optional<double>& value) {
  if (!value) {
    if (sqlite3_bind_null(stmt_, index) != SQLITE_OK) db_.fail("bind");
    return *this;
  }
  return bind(index, *value);
}

bool Statement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  db_.fail("step");
}

void Statement::run() {
  while (step()) {
  }
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int64_t Statement::column_int(int index) const {
  return sqlite3_column_int64(stmt_, index);
}
double Statement::column_double(int index) const {
  return sqlite3_column_double(stmt_, index);
}
std::string Statement::column_text(int index) const {
  const auto* text = sqlite3_column_text(stmt_, index);
  return text ? reinterpret_cast<const char*>(text) : "";
}
bool Statement::column_is_null(int index) const {
  return sqlite3_column_type(stmt_, index) == SQLITE_NULL;
}

Transaction::Transaction(Database& db) : db_(db) {
  db_.exec("BEGIN IMMEDIATE");
}

Transaction::~Transaction() {
  if (!done_) sqlite3_exec(db_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
}

void Transaction::commit() {
  db_.exec("COMMIT");
  done_ = true;
}

}  // namespace dreamer::results
