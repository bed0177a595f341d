#pragma once

// What the command line records in the audit log: its actor is the Linux
// account that ran it ("cli:root"), its address "local".

#include <string>

#include "engine/catalog/audit_log.h"
#include "engine/repo/repository.h"

namespace sendense::cli {

// Appends one record for `action` on `target` (a VM, user, token or
// tenant; its tenant is taken from a qualified name). Never throws: an
// audit log that cannot be written is logged, and the command's own
// outcome stands.
void RecordLocal(const Repository& repo,
                 const std::string& action,
                 const std::string& target,
                 AuditOutcome outcome = AuditOutcome::kOk,
                 const std::string& detail = "");

// Runs `body`, recording `action` on `target` as ok, or as failed with
// the error's sentence before rethrowing it.
template <typename Body>
void Audited(const Repository& repo,
             const std::string& action,
             const std::string& target,
             Body&& body) {
  try {
    body();
  } catch (const std::exception& e) {
    RecordLocal(repo, action, target, AuditOutcome::kFailed, e.what());
    throw;
  }
  RecordLocal(repo, action, target);
}

}  // namespace sendense::cli
