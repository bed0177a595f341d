#include "cli/remedy.h"

namespace sendense::cli {

std::string Explain(const Error& e) {
  const std::string what = e.what();
  switch (e.remedy()) {
    case Remedy::kNone:
      return what;
    case Remedy::kGiveRetentionPolicy:
      return what + ": give --keep-* rules or store some with 'vm set " +
             (e.subject().empty() ? "NAME" : e.subject()) +
             " --keep-daily N ...'";
    case Remedy::kGiveExportTls:
      return what +
             ": give TLS certificates (`export --tls DIR`, `serve "
             "--export-tls DIR`)";
    case Remedy::kInitRepository:
      return what + " (run 'sendense -r " + e.subject() + " init' first)";
  }
  return what;
}

}  // namespace sendense::cli
