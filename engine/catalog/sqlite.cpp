#include "engine/catalog/sqlite.h"

#include <pthread.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>

#include "engine/error.h"
#include "engine/io/capacity.h"
#include "engine/io/network_fs.h"

namespace sendense::sqlite {
namespace fs = std::filesystem;
namespace {

// Bumped in every child of a fork: connections opened before it are the
// parent's, whose locks the child does not hold.
std::atomic<uint64_t> g_fork_generation{0};

uint64_t ForkGeneration() {
  static const bool registered = [] {
    pthread_atfork(nullptr, nullptr, [] { ++g_fork_generation; });
    return true;
  }();
  (void)registered;
  return g_fork_generation.load();
}

// SQLite reports a full disk as SQLITE_FULL, or as an I/O error when the
// shared-memory index of the WAL cannot grow.
bool DiskFull(int rc, const std::string& path) {
  const int primary = rc & 0xff;
  return primary == SQLITE_FULL ||
         ((primary == SQLITE_IOERR || primary == SQLITE_CANTOPEN ||
           primary == SQLITE_READONLY) &&
          FilesystemFull(path));
}

[[noreturn]] void Fail(sqlite3* db,
                       int rc,
                       const std::string& path,
                       const std::string& what) {
  if (DiskFull(rc, path)) {
    ThrowFilesystemFull(path);
  }
  const std::string msg =
      what + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  const int primary = rc & 0xff;
  if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB) {
    throw Error(ErrorKind::kCorrupt, "catalog: " + msg);
  }
  throw Error(ErrorKind::kIo, "catalog: " + msg);
}

uint64_t FileSize(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

}  // namespace

Database::Database(const std::string& path, bool create)
    : path_(path), fork_generation_(ForkGeneration()) {
  // Before SQLite's first use: no global memory statistics, whose mutex
  // every allocation of every connection would take (the API serves
  // requests on many threads at once).
  static const bool configured = [] {
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    return true;
  }();
  (void)configured;
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX |
                    (create ? SQLITE_OPEN_CREATE : 0);
  sqlite3* opened = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &opened, flags, nullptr);
  db_.reset(opened);  // closed by its owner even when the open failed
  if (rc != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_.get()) : sqlite3_errstr(rc);
    db_.reset();
    if (DiskFull(rc, path)) {
      ThrowFilesystemFull(path);
    }
    throw Error(ErrorKind::kIo, "cannot open catalog " + path + ": " + msg);
  }
  sqlite3_busy_timeout(db_.get(), 10000);
  try {
    // WAL's shared memory is not shared across machines: a rollback
    // journal on a network filesystem (NFS with locking on, SMB).
    Exec(NetworkFilesystem(fs::path(path).parent_path()).empty()
             ? "PRAGMA journal_mode=WAL"
             : "PRAGMA journal_mode=DELETE");
    Exec("PRAGMA synchronous=FULL");
    Exec("PRAGMA foreign_keys=ON");
  } catch (const Error& e) {
    if (create || e.kind() != ErrorKind::kNoSpace) {
      throw;  // db_ closes with the half-made object
    }
    OpenSnapshot();
  }
}

// With no other connection the last one checkpointed and removed the WAL,
// so the database file alone is the whole catalog: read it as immutable
// (no locks, no shared memory, nothing written). A WAL left with content
// (its writer was killed) cannot be read without writing: that fails.
void Database::OpenSnapshot() {
  db_.reset();
  if (FileSize(path_ + "-wal") > 0) {
    ThrowFilesystemFull(path_,
                        "; the catalog has changes a killed process did not "
                        "checkpoint, which need space to read");
  }
  const std::string uri = "file:" + path_ + "?immutable=1";
  sqlite3* opened = nullptr;
  const int rc = sqlite3_open_v2(
      uri.c_str(), &opened,
      SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI, nullptr);
  db_.reset(opened);
  if (rc != SQLITE_OK) {
    db_.reset();
    ThrowFilesystemFull(path_);
  }
  snapshot_ = true;
  Exec("PRAGMA foreign_keys=ON");
}

Database::~Database() {
  cached_.clear();  // finalized before the close
}

void Database::Close::operator()(sqlite3* db) const {
  sqlite3_close(db);
}

void Database::CheckProcess() const {
  if (fork_generation_ != g_fork_generation.load(std::memory_order_relaxed)) {
    throw Error(ErrorKind::kIo,
                "catalog: a connection opened before a fork was used after "
                "it (its locks stayed with the parent)");
  }
}

void Database::Exec(const std::string& sql) {
  CheckProcess();
  char* err = nullptr;
  const int rc = sqlite3_exec(db_.get(), sql.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    sqlite3_free(err);
    Fail(db_.get(), rc, path_, "cannot run '" + sql.substr(0, 40) + "'");
  }
}

Statement Database::Prepare(const std::string& sql) {
  CheckProcess();
  return Statement(*this, sql);
}

Statement& Database::Cached(const std::string& sql) {
  CheckProcess();
  auto& slot = cached_[sql];
  if (!slot) {
    slot = std::make_unique<Statement>(*this, sql);
  }
  slot->Reset();
  return *slot;
}

int64_t Database::LastInsertId() const {
  return sqlite3_last_insert_rowid(db_.get());
}

int64_t Database::Changes() const {
  return sqlite3_changes(db_.get());
}

Statement::Statement(Database& db, const std::string& sql) : db_(&db) {
  const int rc =
      sqlite3_prepare_v2(db.handle(), sql.c_str(), -1, &stmt_, nullptr);
  if (rc != SQLITE_OK) {
    Fail(db.handle(), rc, db.path(),
         "cannot prepare '" + sql.substr(0, 40) + "'");
  }
}

Statement::Statement(Statement&& other) noexcept
    : db_(other.db_), stmt_(other.stmt_) {
  other.stmt_ = nullptr;
}

Statement::~Statement() {
  sqlite3_finalize(stmt_);
}

Statement& Statement::Bind(int index, int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
  return *this;
}

Statement& Statement::Bind(int index, double value) {
  sqlite3_bind_double(stmt_, index, value);
  return *this;
}

Statement& Statement::Bind(int index, const std::string& value) {
  sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()),
                    SQLITE_TRANSIENT);
  return *this;
}

Statement& Statement::BindBlob(int index, const std::string& bytes) {
  // A zero-length blob, not NULL, for an empty map.
  sqlite3_bind_blob(stmt_, index, bytes.empty() ? "" : bytes.data(),
                    static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
  return *this;
}

Statement& Statement::Bind(int index, std::nullopt_t) {
  sqlite3_bind_null(stmt_, index);
  return *this;
}

Statement& Statement::Bind(int index, const std::optional<int64_t>& value) {
  return value ? Bind(index, *value) : Bind(index, std::nullopt);
}

bool Statement::Step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) {
    return true;
  }
  if (rc == SQLITE_DONE) {
    return false;
  }
  Fail(db_->handle(), rc, db_->path(), "query failed");
}

void Statement::Reset() {
  sqlite3_reset(stmt_);
}

void Statement::Run() {
  while (Step()) {
  }
  sqlite3_reset(stmt_);  // ready to be bound and run again
}

int64_t Statement::Int(int column) const {
  return sqlite3_column_int64(stmt_, column);
}

double Statement::Real(int column) const {
  return sqlite3_column_double(stmt_, column);
}

std::string Statement::Text(int column) const {
  const auto* p = sqlite3_column_text(stmt_, column);
  return p ? std::string(reinterpret_cast<const char*>(p),
                         sqlite3_column_bytes(stmt_, column))
           : std::string();
}

std::string Statement::Blob(int column) const {
  const auto* p = sqlite3_column_blob(stmt_, column);
  return p ? std::string(static_cast<const char*>(p),
                         sqlite3_column_bytes(stmt_, column))
           : std::string();
}

bool Statement::IsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

Transaction::Transaction(Database& db) : db_(db) {
  db_.Exec("BEGIN IMMEDIATE");
}

Transaction::~Transaction() {
  if (!done_) {
    try {
      db_.Exec("ROLLBACK");
    } catch (...) {
    }
  }
}

void Transaction::Commit() {
  db_.Exec("COMMIT");
  done_ = true;
}

}  // namespace sendense::sqlite
