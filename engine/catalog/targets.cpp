#include "engine/catalog/targets.h"

#include <sys/stat.h>

#include <cctype>

#include "engine/catalog/catalog.h"
#include "engine/catalog/names.h"
#include "engine/error.h"
#include "engine/time.h"

namespace sendense {
namespace {

const std::string& Migrated(const std::string& path) {
  Catalog migrate(path, false);
  return path;
}

constexpr const char* kColumns =
    "SELECT name, kind, location, credentials, region, ca_file, lock_days, "
    "lock_mode, bandwidth, created_at, repository_id, retention, full_every "
    "FROM targets ";

Target ReadTarget(const sqlite::Statement& s) {
  Target t;
  t.name = s.Text(0);
  t.kind = s.Text(1);
  t.location = s.Text(2);
  t.credentials = s.Text(3);
  t.region = s.Text(4);
  t.ca_file = s.Text(5);
  t.lock_days = s.Int(6);
  t.lock_mode = s.Text(7);
  t.bandwidth = static_cast<uint64_t>(s.Int(8));
  t.created_at = s.Text(9);
  t.repository_id = s.Text(10);
  t.retention = retention::ParsePolicyJson(nlohmann::json::parse(s.Text(11)));
  t.full_every = s.Int(12);
  return t;
}

void Check(const Target& t) {
  ValidateName("target name", t.name);
  const auto bad = [&](const std::string& why) {
    return Error(ErrorKind::kInvalidArgument, "target " + t.name + ": " + why);
  };
  if (t.full_every < 0 || t.full_every > 100000) {
    throw bad("--full-every takes a count from 0 (never) to 100000");
  }
  if (t.kind == "dir") {
    if (t.full_every != 0) {
      throw bad(
          "--full-every is for S3 targets (a directory target's "
          "prune merges its chains)");
    }
    if (t.location.empty() || t.location[0] != '/') {
      throw bad("'" + t.location + "' is not an absolute directory");
    }
    return;
  }
  if (t.kind != "s3") {
    throw bad("kind '" + t.kind + "' is neither dir nor s3");
  }
  if (t.location.rfind("https://", 0) != 0 &&
      t.location.rfind("http://", 0) != 0) {
    throw bad("'" + t.location +
              "' is not an S3 location (https://ENDPOINT/BUCKET[/PREFIX])");
  }
  if (t.lock_days < 0 || (t.lock_days > 0 && t.lock_mode != "compliance" &&
                          t.lock_mode != "governance")) {
    throw bad("--lock-days needs --lock-mode compliance or governance");
  }
  if (t.lock_days == 0 && !t.lock_mode.empty()) {
    throw bad("--lock-mode needs --lock-days N");
  }
  if (!t.credentials.empty()) {
    struct stat st {};
    if (::stat(t.credentials.c_str(), &st) != 0) {
      throw bad("cannot read the credentials file " + t.credentials);
    }
    if ((st.st_mode & 077) != 0) {
      throw bad("the credentials file " + t.credentials +
                " can be read by others: chmod 600 it");
    }
  }
}

}  // namespace

nlohmann::json TargetJson(const Target& t) {
  return {
      {"name", t.name},
      {"kind", t.kind},
      {"location", t.location},
      {"credentials", t.credentials.empty() ? nlohmann::json(nullptr)
                                            : nlohmann::json(t.credentials)},
      {"region",
       t.region.empty() ? nlohmann::json(nullptr) : nlohmann::json(t.region)},
      {"ca_file",
       t.ca_file.empty() ? nlohmann::json(nullptr) : nlohmann::json(t.ca_file)},
      {"lock_days", t.lock_days},
      {"lock_mode", t.lock_mode.empty() ? nlohmann::json(nullptr)
                                        : nlohmann::json(t.lock_mode)},
      {"bandwidth", t.bandwidth},
      {"retention", retention::PolicyJson(t.retention)},
      {"full_every", t.full_every},
      {"created_at", t.created_at}};
}

uint64_t ParseBandwidth(const std::string& text) {
  std::string s = text;
  if (s.size() > 2 && s.compare(s.size() - 2, 2, "/s") == 0) {
    s.resize(s.size() - 2);
  }
  size_t digits = 0;
  while (digits < s.size() &&
         std::isdigit(static_cast<unsigned char>(s[digits]))) {
    ++digits;
  }
  const std::string unit = s.substr(digits);
  uint64_t scale = 0;
  if (unit.empty() || unit == "B")
    scale = 1;
  if (unit == "K" || unit == "KiB")
    scale = 1ull << 10;
  if (unit == "M" || unit == "MiB")
    scale = 1ull << 20;
  if (unit == "G" || unit == "GiB")
    scale = 1ull << 30;
  if (digits == 0 || scale == 0 || digits > 12) {
    throw Error(ErrorKind::kInvalidArgument,
                "'" + text +
                    "' is not a bandwidth (a number with B, KiB, MiB or "
                    "GiB, per second: 50MiB/s)");
  }
  return std::stoull(s.substr(0, digits)) * scale;
}

Targets::Targets(const std::string& catalog_path)
    : db_(Migrated(catalog_path), false) {}

void Targets::Add(const Target& t) {
  Check(t);
  sqlite::Transaction tx(db_);
  if (Find(t.name)) {
    throw Error(ErrorKind::kAlreadyExists,
                "a target named '" + t.name + "' already exists");
  }
  db_.Prepare(
         "INSERT INTO targets (name, kind, location, credentials, region, "
         "ca_file, lock_days, lock_mode, bandwidth, created_at, "
         "repository_id, retention, full_every) "
         "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
      .Bind(1, t.name)
      .Bind(2, t.kind)
      .Bind(3, t.location)
      .Bind(4, t.credentials)
      .Bind(5, t.region)
      .Bind(6, t.ca_file)
      .Bind(7, t.lock_days)
      .Bind(8, t.lock_mode)
      .Bind(9, static_cast<int64_t>(t.bandwidth))
      .Bind(10, NowIso())
      .Bind(11, t.repository_id)
      .Bind(12, retention::PolicyJson(t.retention).dump())
      .Bind(13, t.full_every)
      .Run();
  tx.Commit();
}

void Targets::Update(const Target& t) {
  Check(t);
  sqlite::Transaction tx(db_);
  Require(t.name);
  db_.Prepare(
         "UPDATE targets SET lock_days = ?, lock_mode = ?, bandwidth = ?, "
         "retention = ?, full_every = ? WHERE name = ?")
      .Bind(1, t.lock_days)
      .Bind(2, t.lock_mode)
      .Bind(3, static_cast<int64_t>(t.bandwidth))
      .Bind(4, retention::PolicyJson(t.retention).dump())
      .Bind(5, t.full_every)
      .Bind(6, t.name)
      .Run();
  tx.Commit();
}

void Targets::Remove(const std::string& name) {
  sqlite::Transaction tx(db_);
  Require(name);
  db_.Prepare("DELETE FROM targets WHERE name = ?").Bind(1, name).Run();
  tx.Commit();
}

std::vector<Target> Targets::List() {
  auto s = db_.Prepare(std::string(kColumns) + "ORDER BY name");
  std::vector<Target> out;
  while (s.Step()) {
    out.push_back(ReadTarget(s));
  }
  return out;
}

std::optional<Target> Targets::Find(const std::string& name) {
  auto s = db_.Prepare(std::string(kColumns) + "WHERE name = ?");
  s.Bind(1, name);
  if (!s.Step()) {
    return std::nullopt;
  }
  return ReadTarget(s);
}

Target Targets::Require(const std::string& name) {
  if (auto t = Find(name)) {
    return *t;
  }
  std::string names;
  for (const auto& t : List()) {
    names += (names.empty() ? "" : ", ") + t.name;
  }
  throw Error(ErrorKind::kNotFound,
              "no target named '" + name + "'" +
                  (names.empty() ? " (add one with target add)"
                                 : " (there are: " + names + ")"));
}

std::vector<LastCopy> Targets::LastCopies(const Target& target) {
  auto s = db_.Prepare(
      "SELECT v.name, MAX(b.name), MAX(c.copied_at) FROM copies c "
      "JOIN backups b ON b.id = c.backup_id JOIN vms v ON v.id = b.vm_id "
      "WHERE c.target IN (?, ?) GROUP BY v.name ORDER BY v.name");
  s.Bind(1, target.name).Bind(2, target.location);
  std::vector<LastCopy> out;
  while (s.Step()) {
    out.push_back({s.Text(0), s.Text(1), s.Text(2)});
  }
  return out;
}

}  // namespace sendense
