#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

struct sqlite3;
struct sqlite3_stmt;

namespace sendense::sqlite {

class Statement;

// One SQLite connection. Errors throw sendense::Error (kIo; kNoSpace with
// "the repository's filesystem is full (N bytes free)" when the disk is
// full). Not thread-safe: one connection per thread. A connection never
// crosses a fork (its POSIX locks stay with the parent): using one in a
// child throws.
class Database {
 public:
  // Opens (creating when `create`) the database at `path` in WAL mode with
  // foreign keys on and a busy timeout, so that several processes can share
  // it. When the filesystem is full and no other process has the database
  // open (so its WAL cannot be set up), the open falls back to a read-only
  // snapshot of the checkpointed file (snapshot() is true): reads work,
  // writes throw kNoSpace, and later commits of others are not seen.
  Database(const std::string& path, bool create);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  void Exec(const std::string& sql);
  Statement Prepare(const std::string& sql);
  // The statement for `sql`, prepared on first use and kept (lookups that
  // run thousands of times a second), reset and ready to bind. Step it to
  // the end or Reset() it before asking for the same `sql` again.
  Statement& Cached(const std::string& sql);
  int64_t LastInsertId() const;
  // Rows changed by the last statement.
  int64_t Changes() const;
  sqlite3* handle() const { return db_.get(); }
  const std::string& path() const { return path_; }
  // A read-only snapshot opened on a full filesystem (see above).
  bool snapshot() const { return snapshot_; }

 private:
  // Throws unless this process opened the connection.
  void CheckProcess() const;
  void OpenSnapshot();

  struct Close {
    void operator()(sqlite3* db) const;
  };
  // Owned from the open: every path out of the constructor closes it.
  std::unique_ptr<sqlite3, Close> db_;
  std::string path_;
  bool snapshot_ = false;
  uint64_t fork_generation_ = 0;
  std::unordered_map<std::string, std::unique_ptr<Statement>> cached_;
};

// A prepared statement. Bind parameters are 1-based, columns 0-based.
class Statement {
 public:
  Statement(Database& db, const std::string& sql);
  Statement(Statement&& other) noexcept;
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& Bind(int index, int64_t value);
  Statement& Bind(int index, double value);
  Statement& Bind(int index, const std::string& value);
  Statement& Bind(int index, std::nullopt_t);
  Statement& Bind(int index, const std::optional<int64_t>& value);
  Statement& BindBlob(int index, const std::string& bytes);

  // Back to before the first step, keeping the bindings (to run a cached
  // statement again).
  void Reset();
  // Steps once: true while a row is available.
  bool Step();
  // Steps to the end (for statements without results) and resets, so
  // that the statement can be bound and run again.
  void Run();

  int64_t Int(int column) const;
  double Real(int column) const;
  std::string Text(int column) const;
  std::string Blob(int column) const;
  bool IsNull(int column) const;

 private:
  Database* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

// BEGIN IMMEDIATE ... COMMIT, rolled back unless Commit() is called.
class Transaction {
 public:
  explicit Transaction(Database& db);
  ~Transaction();
  void Commit();

 private:
  Database& db_;
  bool done_ = false;
};

}  // namespace sendense::sqlite
