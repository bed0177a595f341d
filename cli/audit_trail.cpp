#include "cli/audit_trail.h"

#include <pwd.h>
#include <unistd.h>

#include "engine/error.h"
#include "engine/log.h"

namespace sendense::cli {
namespace {

std::string LocalActor() {
  const passwd* pw = ::getpwuid(::getuid());
  return std::string("cli:") +
         (pw != nullptr ? pw->pw_name : std::to_string(::getuid()));
}

}  // namespace

void RecordLocal(const Repository& repo,
                 const std::string& action,
                 const std::string& target,
                 AuditOutcome outcome,
                 const std::string& detail) {
  try {
    AuditRecord r;
    r.actor = LocalActor();
    r.address = "local";
    r.action = action;
    r.target = target;
    r.tenant = TenantOfTarget(target);
    r.outcome = outcome;
    r.detail = detail;
    AuditLog(repo.CatalogPath()).Append(std::move(r));
  } catch (const Error& e) {
    // A full filesystem is the command's own sentence already.
    if (e.kind() != ErrorKind::kNoSpace) {
      Log(LogLevel::kWarning, "audit log: " + std::string(e.what()));
    }
  } catch (const std::exception& e) {
    Log(LogLevel::kWarning, "audit log: " + std::string(e.what()));
  }
}

}  // namespace sendense::cli
