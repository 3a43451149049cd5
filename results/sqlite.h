#pragma once
// A thin RAII wrapper over sqlite3: a connection and prepared statements. Every error is an
// InputError naming the database file and the cause (sqlite's message, and the operating
// system's for I/O errors), so a message is useful without a stack trace.
//
// Several processes may write one results file. A writer that finds it locked retries with
// exponential backoff (1 ms doubling to 250 ms between tries) for lock_timeout_seconds(), says
// on stderr that it is waiting once the wait passes 5 s, and fails with an InputError after.
#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace dreamer::results {

class Database;

// How long a connection waits for another process's lock before failing (default 120 s; the
// CLI's --db-timeout sets it). Applies to connections opened afterwards.
void set_lock_timeout_seconds(double seconds);
double lock_timeout_seconds();

class Statement {
 public:
  Statement(Database& db, const std::string& sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Binds by 1-based index; returns *this for chaining.
  Statement& bind(int index, const std::string& value);
  Statement& bind(int index, int64_t value);
  Statement& bind(int index, double value);
  Statement& bind(int index, const std::optional<double>& value);  // NULL when empty
  // Binds every argument in order, from index 1.
  template <typename... Args>
  Statement& bind_all(const Args&... args) {
    int index = 0;
    (bind(++index, args), ...);
    return *this;
  }
  // Steps once: true while a row is available.
  bool step();
  // Runs to completion and resets for the next set of bindings.
  void run();
  int64_t column_int(int index) const;
  double column_double(int index) const;
  std::string column_text(int index) const;
  bool column_is_null(int index) const;

 private:
  Database& db_;
  sqlite3_stmt* stmt_ = nullptr;
};

class Database {
 public:
  // Creates the file if needed. An empty path or ":memory:" is an InputError (SQLite would keep
  // the results in a temporary database and discard them at exit), and so is a file whose
  // directory does not exist (named in the message).
  explicit Database(const std::string& file);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  void exec(const std::string& sql);
  const std::string& file() const { return file_; }
  sqlite3* handle() { return db_; }
  // Throws InputError(file, what + the cause): sqlite's message, the OS error for I/O errors,
  // and for a lock wait that timed out, how long it waited and how to wait longer.
  [[noreturn]] void fail(const std::string& what) const;

 private:
  static int on_busy(void* self, int attempts);
  std::string file_;
  sqlite3* db_ = nullptr;
  std::chrono::steady_clock::time_point busy_since_;
  bool told_waiting_ = false;
  double timeout_s_ = 120;
};

// BEGIN IMMEDIATE ... COMMIT, rolled back if destroyed before commit().
class Transaction {
 public:
  explicit Transaction(Database& db);
  ~Transaction();
  void commit();

 private:
  Database& db_;
  bool done_ = false;
};

}  // namespace dreamer::results
