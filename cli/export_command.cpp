#include <iostream>
#include <memory>

#include "cli/audit_trail.h"
#include "cli/commands.h"
#include "engine/error.h"
#include "engine/export/exports.h"
#include "engine/repo/repository.h"

namespace sendense::cli {
namespace {

void PrintExport(const exports::ExportStatus& s) {
  const auto& r = s.record;
  std::cout << r.id << "  " << r.vm << "/" << r.backup << "  " << r.disk << "  "
            << (r.writable ? "writable" : "read-only") << "  " << s.state;
  if (!s.uri.empty()) {
    std::cout << "  " << s.uri;
  }
  if (r.writable) {
    std::cout << "  overlay "
              << HumanBytes(static_cast<double>(s.overlay_bytes));
  }
  std::cout << "\n";
  if (!s.error.empty()) {
    std::cout << "    " << s.error << "\n";
  }
}

}  // namespace

void RegisterExport(CLI::App& app, GlobalOptions& global) {
  struct Args {
    exports::ExportRequest request;
    bool json = false;
    int64_t id = 0;
    bool keep_overlay = false;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand(
      "export",
      "Serve one disk of a point over NBD (qemu-nbd reading the chain in "
      "place); --writable puts a throwaway overlay on top");
  AddPointOptions(*cmd, args->request.vm, args->request.point,
                  args->request.disk);
  cmd->add_option("--socket", args->request.socket,
                  "A unix socket to serve on (default: in REPO/exports/ID/)");
  cmd->add_option("--listen", args->request.listen,
                  "HOST:PORT to serve on over TCP instead");
  cmd->add_option("--tls", args->request.tls_dir,
                  "With --listen on an address other than loopback: serve "
                  "TLS from DIR (ca-cert.pem, server-cert.pem, "
                  "server-key.pem); clients need certificates of that CA");
  cmd->add_flag("--writable", args->request.writable,
                "Take writes into a temporary QCOW2 overlay (never into the "
                "backup)");
  cmd->add_flag("--json", args->json, "Print the export as JSON");
  cmd->callback([&global, args] {
    Repository repo(RequireRepo(global));
    exports::ExportStatus s;
    Audited(repo, "export", args->request.vm,
            [&] { s = exports::StartExport(repo, args->request); });
    if (args->json) {
      std::cout << exports::ExportJson(s).dump(2) << "\n";
      return;
    }
    std::cout << "Export " << s.record.id << ": " << s.record.vm << "/"
              << s.record.backup << " disk " << s.record.disk << " at " << s.uri
              << (s.record.writable ? " (writable overlay)" : "")
              << "\nEnd it with `"
              << repo.Command("unexport " + std::to_string(s.record.id))
              << "`\n";
  });

  auto* list = app.add_subcommand("exports", "List the points served over NBD");
  list->add_flag("--json", args->json, "Print JSON");
  list->callback([&global, args] {
    Repository repo(RequireRepo(global));
    const auto all = exports::ListExports(repo);
    if (args->json) {
      nlohmann::json j = nlohmann::json::array();
      for (const auto& s : all) {
        j.push_back(exports::ExportJson(s));
      }
      std::cout << j.dump(2) << "\n";
      return;
    }
    if (all.empty()) {
      std::cout << "No exports\n";
    }
    for (const auto& s : all) {
      PrintExport(s);
    }
  });

  auto* end = app.add_subcommand(
      "unexport", "End an export: stop its server and delete its overlay");
  end->add_option("ID", args->id, "The export's id (see `exports`)")
      ->required();
  end->add_flag("--keep-overlay", args->keep_overlay,
                "Keep the overlay: with the point under it, it is the "
                "recovered disk (docs/restore.md)");
  end->callback([&global, args] {
    Repository repo(RequireRepo(global));
    const std::string kept =
        exports::EndExport(repo, args->id, args->keep_overlay);
    if (kept.empty()) {
      std::cout << "Export " << args->id << " ended\n";
    } else {
      std::cout << "Export " << args->id << " ended; its overlay is kept at "
                << kept
                << "\nMake it standalone with `qemu-img convert -O qcow2 "
                << kept << " DISK.qcow2`, then `"
                << repo.Command("unexport " + std::to_string(args->id))
                << "` to delete it\n";
    }
  });
}

}  // namespace sendense::cli
