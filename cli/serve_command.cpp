#include <signal.h>

#include <csignal>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <optional>
#include <thread>

#include "cli/commands.h"
#include "cli/quantities.h"
#include "cli/usage_errors.h"
#include "engine/catalog/vm_configs.h"
#include "engine/error.h"
#include "engine/export/export_supervisor.h"
#include "engine/io/listen_address.h"
#include "engine/jobs/job_runner.h"
#include "engine/jobs/scheduler.h"
#include "engine/log.h"
#include "engine/periodic.h"
#include "engine/repo/repository_key.h"
#include "engine/time.h"
#include "fs/mount.h"
#include "web/api.h"
#include "web/http_server.h"
#include "web/tls.h"
#include "web/ui.h"

namespace sendense::cli {
namespace {

struct ServeArgs {
  std::string mount;
  std::string listen = "127.0.0.1:8420";
  size_t workers = 2;
  bool no_index = false;
  size_t max_connections = web::HttpLimits{}.max_connections;
  int64_t request_timeout = web::HttpLimits{}.request_time.count();
  int64_t idle_timeout = web::HttpLimits{}.idle_time.count();
  int64_t session_idle = web::Sessions{}.idle().count();
  std::string verify_every;  // "7d", "12h", "30m"; "" for never
  std::string restore_dir;   // where API restores may write files
  std::string export_tls;    // TLS certificates for exports beyond loopback
  std::string tls_cert, tls_key;  // HTTPS with these files
  bool tls = false;               // HTTPS with the repository's own pair
  bool insecure_http = false;     // plain HTTP beyond loopback, on purpose
};

// The API's TLS files: given, the repository's own (made once), or none.
// Error kInvalidArgument for plain HTTP beyond loopback unless asked.
std::optional<web::TlsFiles> ApiTls(const Repository& repo,
                                    const ServeArgs& args,
                                    const std::string& address) {
  if (!args.tls_cert.empty() || !args.tls_key.empty()) {
    if (args.tls_cert.empty() || args.tls_key.empty()) {
      throw Error(ErrorKind::kInvalidArgument,
                  "--tls-cert and --tls-key go together");
    }
    return web::TlsFiles{args.tls_cert, args.tls_key};
  }
  if (args.tls) {
    return web::EnsureSelfSigned(repo.Absolute("tls"));
  }
  if (!IsLoopbackAddress(address) && !args.insecure_http) {
    throw Error(ErrorKind::kInvalidArgument,
                "listening on " + address +
                    " without TLS would send passwords and tokens in the "
                    "clear: give --tls (or --tls-cert and --tls-key), or "
                    "--insecure-http to do it anyway");
  }
  return std::nullopt;
}

// Reloads the API's certificate on each SIGHUP (blocked in every thread)
// until it is destroyed.
class ReloadOnHangup {
 public:
  explicit ReloadOnHangup(web::HttpServer& server)
      : thread_([this, &server] {
          sigset_t set;
          sigemptyset(&set);
          sigaddset(&set, SIGHUP);
          const timespec tick{0, 200 * 1000 * 1000};
          while (!stop_) {
            if (sigtimedwait(&set, nullptr, &tick) == SIGHUP) {
              server.ReloadTls();
            }
          }
        }) {}
  ~ReloadOnHangup() {
    stop_ = true;
    thread_.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

std::string ReadToken(const Repository& repo) {
  std::ifstream in(repo.TokenPath());
  std::string token;
  std::getline(in, token);
  if (token.empty()) {
    throw Error(ErrorKind::kNotFound,
                "the API token file " + repo.TokenPath() + " is missing");
  }
  return token;
}

void Run(const GlobalOptions& global, const ServeArgs& args) {
  Repository repo(RequireRepo(global));
  const Repository::ServeLock only_serve(repo);
  // What backups killed while no one ran left is cleaned up now; on a full
  // filesystem serve still starts, for restores.
  try {
    Repository::Reclaimed reclaimed;
    repo.OpenCatalogForWriting(&reclaimed);
    if (!reclaimed.interrupted_backups.empty() ||
        !reclaimed.removed_files.empty()) {
      Log(LogLevel::kInfo,
          "reclaimed " + std::to_string(reclaimed.removed_files.size()) +
              " leftover file(s), " + std::to_string(reclaimed.removed_bytes) +
              " bytes; " +
              std::to_string(reclaimed.interrupted_backups.size()) +
              " backup(s) interrupted");
    }
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::kNoSpace) {
      throw;
    }
    Log(LogLevel::kWarning,
        std::string(e.what()) + ": serving read-only until space is freed");
  }
  const auto [address, port] = ParseListen(args.listen);
  const auto tls = ApiTls(repo, args, address);
  const std::string token = ReadToken(repo);
  guest::AppliancePool appliances(2, std::chrono::seconds(120));
  CatalogPool catalogs(repo);
  // One namespace for the tree and the API's file routes.
  browse::Namespace ns(repo, catalogs, appliances);
  JobRunner jobs(repo, JobRunnerOptions{.workers = args.workers,
                                        .index_guest_files = !args.no_index,
                                        .prune_after_backup = true});
  // serve's exports, started again now and whenever their server dies.
  exports::ExportSupervisor supervisor(repo, std::chrono::seconds(2));
  web::ApiContext api{repo,
                      token,
                      jobs,
                      appliances,
                      catalogs,
                      ns,
                      args.restore_dir,
                      args.export_tls,
                      {},
                      web::Sessions(std::chrono::seconds(args.session_idle))};
  api.tls = tls.has_value();
  web::HttpServer server(
      address, port,
      web::HttpLimits{
          .request_time = std::chrono::seconds(args.request_timeout),
          .idle_time = std::chrono::seconds(args.idle_timeout),
          .max_connections = args.max_connections},
      [&api](const web::Request& req, const std::string& peer) {
        if (auto page = web::ServeUi(req)) {
          return std::move(*page);
        }
        return web::HandleApi(api, req, peer);
      },
      tls);
  ReloadOnHangup reload(server);
  const std::string scheme = tls ? "https://" : "http://";
  const std::string host =
      address.find(':') == std::string::npos ? address : "[" + address + "]";
  Log(LogLevel::kInfo, "API listening on " + scheme + host + ":" +
                           std::to_string(server.port()) + "/api/v1");
  Log(LogLevel::kInfo, "dashboard on " + scheme + host + ":" +
                           std::to_string(server.port()) + "/");
  if (tls) {
    Log(LogLevel::kInfo, "TLS certificate " + tls->cert + ", SHA-256 " +
                             web::CertificateFingerprint(tls->cert) +
                             " (reloaded on SIGHUP)");
  }
  Scheduler scheduler(repo, jobs,
                      args.verify_every.empty()
                          ? 0
                          : ParseAge("--verify-every", args.verify_every));
  if (!args.mount.empty()) {
    fs::MountOptions options;
    options.mountpoint = args.mount;
    options.foreground = true;
    options.shared_namespace = &ns;
    Log(LogLevel::kInfo, "tree mounted at " + args.mount);
    fs::MountAndServe(repo, options);  // until SIGTERM or fusermount3 -u
  } else {
    // No mount to refresh the namespace: the API's file routes refresh it.
    PeriodicThread refresher(std::chrono::seconds(1), [&ns] {
      try {
        ns.Refresh();
      } catch (const std::exception& e) {
        Log(LogLevel::kError, std::string("refreshing the tree: ") + e.what());
      }
    });
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    int sig = 0;
    sigwait(&set, &sig);
  }
  Log(LogLevel::kInfo, "stopping: cancelling running jobs");
  server.Stop();
  jobs.CancelAll();
}

}  // namespace

void RegisterServe(CLI::App& app, GlobalOptions& global) {
  auto args = std::make_shared<ServeArgs>();
  auto* cmd = app.add_subcommand(
      "serve", "Run the appliance: the tree, the HTTP API and the job runner");
  cmd->add_option("--mount", args->mount, "Mount the tree here");
  cmd->add_option("--listen", args->listen, "ADDRESS:PORT of the API")
      ->capture_default_str();
  cmd->add_option("--jobs,--workers", args->workers,
                  "Jobs that run at once in all (one per VM; a host's own "
                  "limit is host set --max-jobs)")
      ->capture_default_str()
      ->check(Between(1, 16, "backups"));
  cmd->add_option("--max-connections", args->max_connections,
                  "Connections at once; more get 503")
      ->capture_default_str()
      ->check(Between(1, 4096, "connections"));
  cmd->add_option("--request-timeout", args->request_timeout,
                  "Seconds a request may take to arrive; slower gets 408")
      ->capture_default_str()
      ->check(Between(1, 3600, "seconds"));
  cmd->add_option("--idle-timeout", args->idle_timeout,
                  "Seconds a connection may wait between requests")
      ->capture_default_str()
      ->check(Between(1, 3600, "seconds"));
  cmd->add_option("--session-idle", args->session_idle,
                  "Seconds a dashboard session may be idle before it ends")
      ->capture_default_str()
      ->check(Between(1, 7 * 86400, "seconds"));
  cmd->add_option("--verify-every", args->verify_every,
                  "Verify each point again after this long (7d, 12h, 30m), "
                  "as a job");
  cmd->add_option("--restore-dir", args->restore_dir,
                  "Let API restores write files here (else NBD targets "
                  "only)")
      ->check(ExistingFolder());
  cmd->add_option("--export-tls", args->export_tls,
                  "Let API exports listen on addresses other than loopback, "
                  "serving TLS from this directory (ca-cert.pem, "
                  "server-cert.pem, server-key.pem; clients need "
                  "certificates of that CA)");
  auto* cert = cmd->add_option("--tls-cert", args->tls_cert,
                               "HTTPS with this certificate (PEM, its chain)");
  auto* key = cmd->add_option("--tls-key", args->tls_key,
                              "The certificate's private key (PEM)");
  cmd->add_flag("--tls", args->tls,
                "HTTPS with the repository's own self-signed certificate "
                "(made once in REPO/tls; its fingerprint is logged)")
      ->excludes(cert)
      ->excludes(key);
  cmd->add_flag("--insecure-http", args->insecure_http,
                "Allow plain HTTP on an address other than loopback");
  cmd->add_flag("--no-index", args->no_index,
                "Do not index guest files after backups (`sendense index`)");
  cmd->callback([&global, args] {
    SetSecretPrompt(nullptr);  // it runs on: it never asks
    // A script may start us with SIGINT/SIGTERM ignored (a shell's `&`
    // ignores SIGINT): the documented way to stop serve must work.
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);
    // SIGHUP reloads the TLS certificate, on a thread of its own: blocked
    // in every thread (it would end the process otherwise).
    {
      sigset_t hup;
      sigemptyset(&hup);
      sigaddset(&hup, SIGHUP);
      pthread_sigmask(SIG_BLOCK, &hup, nullptr);
    }
    // Without a mount, SIGTERM/SIGINT are awaited with sigwait: block them
    // before any thread starts so that every thread inherits the mask.
    if (args->mount.empty()) {
      sigset_t set;
      sigemptyset(&set);
      sigaddset(&set, SIGTERM);
      sigaddset(&set, SIGINT);
      pthread_sigmask(SIG_BLOCK, &set, nullptr);
    }
    if (!args->verify_every.empty()) {
      ParseAge("--verify-every",
               args->verify_every);  // a mistake fails before anything runs
    }
    Run(global, *args);
  });
}

}  // namespace sendense::cli
