#pragma once
// A thin RAII wrapper over sqlite3: a connection and prepared statements. Every error names
// the database file, so a message is useful without a stack trace.
#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>

namespace dreamer::results {

class Database;

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
  explicit Database(const std::string& file);  // creates the file if needed
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  void exec(const std::string& sql);
  const std::string& file() const { return file_; }
  sqlite3* handle() { return db_; }
  [[noreturn]] void fail(const std::string& what) const;  // throws with sqlite's message

 private:
  std::string file_;
  sqlite3* db_ = nullptr;
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
