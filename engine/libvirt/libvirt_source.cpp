#include "engine/libvirt/libvirt_source.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <pugixml.hpp>
#include <thread>

#include "engine/catalog/catalog.h"
#include "engine/catalog/hosts.h"
#include "engine/catalog/names.h"
#include "engine/error.h"
#include "engine/libvirt/connection.h"
#include "engine/libvirt/host_shell.h"
#include "engine/libvirt/local_programs.h"
#include "engine/log.h"

namespace sendense::libvirt {
namespace {

// Clients a qemu-nbd serving a shut-off domain's disk takes at once: the
// copier's connections (multi-conn), and room for one more. With
// qemu-nbd's default of one, a stray client holds the only slot, and a
// connection waiting behind it is dropped by the handshake time limit.
constexpr const char* kServerClients = "8";

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// The export names of a backup job over TCP begin with this: they mark
// the job as Sendense's (over a unix socket, its path does).
constexpr const char* kExportPrefix = "sendense-";

std::string Escape(const std::string& s) {
  std::string out;
  for (const char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '\'':
        out += "&apos;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// A backup of one libvirt VM: what Opener() describes.
class Session : public BackupSource {
 public:
  Session(const std::string& vm, const LibvirtSource& source, Catalog& catalog)
      : vm_(vm),
        source_(source),
        connection_(source.uri),
        domain_(connection_.Lookup(source.domain)),
        prefix_("sendense-" + vm + "-") {
    try {
      Open(catalog);
    } catch (...) {
      End();
      throw;
    }
  }
  ~Session() override { End(); }

  std::vector<DiskSource> Disks() override { return disks_; }

  void Published(Catalog& catalog, int64_t backup_id) override {
    const std::string kept = new_checkpoint_.empty() ? base_ : new_checkpoint_;
    catalog.RecordBackupSource(backup_id, kept, consistency_, xml_);
    published_ = true;
    if (own_bitmap_) {
      return;  // shut off: libvirt's checkpoints stay until it runs again
    }
    // Only the newest checkpoint is needed: the next incremental's base.
    for (const auto& c : domain_.Checkpoints()) {
      if (c.rfind(prefix_, 0) == 0 && c != kept) {
        domain_.DeleteCheckpoint(c);
      }
    }
  }

 private:
  void Open(Catalog& catalog) {
    std::string previous;
    bool had_point = false;
    bool previous_shut_off = false;
    for (const auto& b : catalog.Backups(vm_)) {
      if (b.state == BackupState::kComplete) {
        previous = b.checkpoint;
        previous_shut_off = b.consistency == "shut-off";
        had_point = true;
      }
    }
    xml_ = domain_.Xml(true);
    std::vector<std::string> skipped;
    const auto all = ParseDomainDisks(domain_.Xml());
    const auto disks = SelectDisks(all, source_, &skipped);
    for (const auto& s : skipped) {
      Log(LogLevel::kWarning, "VM " + vm_ + ": not backed up: " + s);
    }
    char dir[] = "/var/tmp/sendense-XXXXXX";
    if (::mkdtemp(dir) == nullptr) {
      ThrowSystemError("cannot make a directory for the NBD sockets");
    }
    dir_ = dir;
    // qemu (another user) makes its socket here; nobody else can list it.
    ::chmod(dir, 01733);
    const auto checkpoints = domain_.Checkpoints();
    const bool known =
        !previous.empty() && std::find(checkpoints.begin(), checkpoints.end(),
                                       previous) != checkpoints.end();
    std::string why_full;
    if (had_point && previous.empty()) {
      why_full = "the previous point has no libvirt checkpoint";
    } else if (had_point && !known && !domain_.active()) {
      // A shut-off backup's own bitmap (no libvirt checkpoint can be made
      // for a domain that is off): StartServers finds it in the images.
      base_ = previous;
    } else if (had_point && !known && previous_shut_off) {
      why_full =
          "the previous point was backed up shut off (libvirt makes no "
          "checkpoint of a domain that is off), and the domain runs now";
    } else if (had_point && !known) {
      why_full = "checkpoint '" + previous +
                 "' of the previous point is gone from libvirt (deleted, or "
                 "the domain was defined again)";
    }
    if (known) {
      base_ = previous;
    }
    if (domain_.active()) {
      EndStaleJob();
      for (const auto& c : checkpoints) {
        if (c.rfind(prefix_, 0) == 0 && c != base_) {
          // of a run that did not finish
          if (const auto why = domain_.DeleteCheckpoint(c); !why.empty()) {
            Log(LogLevel::kWarning, "VM " + vm_ + ": checkpoint " + c +
                                        " of a backup that did not end was "
                                        "removed from libvirt's records "
                                        "only: " +
                                        why);
          }
        }
      }
      StartJob(all, disks, why_full);
    } else {
      if (!UriHostName(source_.uri).empty()) {
        if (source_.uri.rfind("qemu+ssh://", 0) != 0 || !Tcp()) {
          throw Error(ErrorKind::kUnsupported,
                      "domain '" + source_.domain + "' is shut off on " +
                          UriHostName(source_.uri) +
                          ": Sendense reads a shut-off domain of another "
                          "machine through a host reached by qemu+ssh:// "
                          "(start the domain, or add its host so)");
        }
        shell_.emplace(source_.uri);
      }
      StartServers(disks, why_full);
    }
  }

  void EndStaleJob() {
    const auto xml = domain_.BackupXml();
    if (!xml) {
      return;
    }
    if (xml->find("/var/tmp/sendense-") == std::string::npos &&
        xml->find("exportname='" + std::string(kExportPrefix)) ==
            std::string::npos) {
      throw Error(ErrorKind::kBusy,
                  "domain '" + source_.domain +
                      "' runs a backup job that is not Sendense's");
    }
    Log(LogLevel::kWarning, "VM " + vm_ +
                                ": ending the backup job a Sendense run that "
                                "did not finish left behind");
    domain_.AbortJob();
    WaitForJobEnd();
  }

  void WaitForJobEnd() {
    for (auto waited = 0ms; waited < 30s && domain_.BackupXml();
         waited += 50ms) {
      std::this_thread::sleep_for(50ms);
    }
  }

  std::string BackupXml(const std::vector<DomainDisk>& all,
                        const std::vector<DomainDisk>& chosen,
                        bool incremental) const {
    std::string x = "<domainbackup mode='pull'>";
    if (incremental) {
      x += "<incremental>" + Escape(base_) + "</incremental>";
    }
    if (Tcp()) {
      x += "<server transport='tcp' name='" + Escape(source_.nbd.address) +
           "' port='" + std::to_string(port_) + "'" +
           (source_.nbd.insecure ? "" : " tls='yes'") + "/>";
    } else {
      x += "<server transport='unix' socket='" + Escape(dir_) + "/nbd.sock'/>";
    }
    x += "<disks>";
    for (const auto& d : all) {
      if (!d.Unsupported().empty()) {
        continue;
      }
      const bool yes =
          std::any_of(chosen.begin(), chosen.end(),
                      [&](const auto& c) { return c.target == d.target; });
      x += "<disk name='" + Escape(d.target) + "' backup='" +
           (yes ? "yes" : "no") + "'";
      if (yes) {
        if (incremental && !d.Incremental()) {
          x += " backupmode='full'";
        }
        if (Tcp()) {
          // QEMU may run on another machine: its scratch file goes in that
          // machine's /var/tmp (as virtnbdbackup's), and the export's name
          // marks the job as Sendense's.
          x += " exportname='" + std::string(kExportPrefix) + Escape(d.target) +
               "' type='file'><scratch file='/var/tmp/" +
               std::string(kExportPrefix) + Escape(domain_.name()) + "-" +
               Escape(d.target) + ".qcow2'/></disk>";
        } else {
          x += " type='file'><scratch file='" + Escape(dir_) + "/scratch-" +
               Escape(d.target) + ".qcow2'/></disk>";
        }
      } else {
        x += "/>";
      }
    }
    return x + "</disks></domainbackup>";
  }

  std::string CheckpointXml(const std::vector<DomainDisk>& all,
                            const std::vector<DomainDisk>& chosen) const {
    std::string x =
        "<domaincheckpoint><name>" + Escape(new_checkpoint_) + "</name><disks>";
    for (const auto& d : all) {
      if (!d.Unsupported().empty()) {
        continue;
      }
      const bool yes =
          d.Incremental() &&
          std::any_of(chosen.begin(), chosen.end(),
                      [&](const auto& c) { return c.target == d.target; });
      x += "<disk name='" + Escape(d.target) + "' checkpoint='" +
           (yes ? "bitmap" : "no") + "'/>";
    }
    return x + "</disks></domaincheckpoint>";
  }

  void StartJob(const std::vector<DomainDisk>& all,
                const std::vector<DomainDisk>& chosen,
                std::string why_full) {
    const bool tracked =
        std::any_of(chosen.begin(), chosen.end(),
                    [](const auto& d) { return d.Incremental(); });
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
    new_checkpoint_ = tracked ? prefix_ + std::to_string(ms) : "";
    const std::string checkpoint =
        tracked ? CheckpointXml(all, chosen) : std::string();
    bool incremental = !base_.empty();
    const bool frozen = domain_.Freeze();
    try {
      try {
        Begin(checkpoint, all, chosen, incremental);
      } catch (const Error& e) {
        if (!incremental) {
          throw;
        }
        why_full = "libvirt refused an incremental from checkpoint '" + base_ +
                   "' (" + e.what() + ")";
        incremental = false;
        Begin(checkpoint, all, chosen, false);
      }
    } catch (...) {
      if (frozen) {
        domain_.Thaw();
      }
      new_checkpoint_.clear();  // none was made
      throw;
    }
    job_ = true;
    if (frozen) {
      domain_.Thaw();
    }
    consistency_ = frozen ? "quiesced" : "crash-consistent";
    // Export and bitmap names as libvirt chose them.
    pugi::xml_document doc;
    const auto xml = domain_.BackupXml();
    if (!xml || !doc.load_string(xml->c_str())) {
      throw Error(ErrorKind::kIo, "libvirt's backup job of domain '" +
                                      source_.domain + "' cannot be read");
    }
    for (const auto& d : chosen) {
      const pugi::xml_node n =
          doc.select_node(
                 ("/domainbackup/disks/disk[@name='" + d.target + "']").c_str())
              .node();
      DiskSource s;
      s.name = d.target;
      const std::string exportname =
          n.attribute("exportname").as_string(d.target.c_str());
      if (Tcp()) {
        SetTcpUri(s, port_, exportname);
      } else {
        s.uri = "nbd+unix:///" + exportname + "?socket=" + dir_ + "/nbd.sock";
      }
      if (incremental && d.Incremental()) {
        s.bitmap = n.attribute("exportbitmap")
                       .as_string(("backup-" + d.target).c_str());
      } else {
        s.full_reason = !d.Incremental()
                            ? d.format + " image: no persistent bitmaps"
                        : !why_full.empty() ? why_full
                                            : "no earlier libvirt checkpoint";
      }
      disks_.push_back(s);
    }
  }

  // The disk `s` as an export of a TCP server on the host.
  void SetTcpUri(DiskSource& s, int port, const std::string& exportname) const {
    const std::string& a = source_.nbd.address;
    s.uri = std::string(source_.nbd.insecure ? "nbd://" : "nbds://") +
            (a.find(':') != std::string::npos ? "[" + a + "]" : a) + ":" +
            std::to_string(port) + "/" + exportname;
    s.tls_certificates = source_.nbd.tls_dir;
  }

  // Whether the job's NBD server listens on TCP (QEMU on another machine,
  // or a host given an NBD address) rather than the private socket.
  bool Tcp() const { return !source_.nbd.address.empty(); }

  // Begins the job; over TCP on the first port of the host's range that
  // QEMU can listen on (another job, or anything else, may hold one).
  void Begin(const std::string& checkpoint,
             const std::vector<DomainDisk>& all,
             const std::vector<DomainDisk>& chosen,
             bool incremental) {
    if (!Tcp()) {
      domain_.BeginBackup(BackupXml(all, chosen, incremental), checkpoint);
      return;
    }
    if (source_.nbd.insecure) {
      Log(LogLevel::kWarning,
          "VM " + vm_ + ": its backup data crosses the network to " +
              source_.nbd.address + " without TLS (--insecure-nbd)");
    }
    for (port_ = source_.nbd.port_min;; ++port_) {
      try {
        domain_.BeginBackup(BackupXml(all, chosen, incremental), checkpoint);
        return;
      } catch (const Error& e) {
        // QEMU says the port is in use ("Failed to bind socket: Address
        // already in use"): the next one is tried.
        const std::string what = e.what();
        const bool taken = what.find("in use") != std::string::npos ||
                           what.find("bind") != std::string::npos;
        if (!taken || port_ >= source_.nbd.port_max) {
          if (taken) {
            throw Error(ErrorKind::kBusy,
                        "every NBD port of " + source_.nbd.address + " (" +
                            std::to_string(source_.nbd.port_min) + "-" +
                            std::to_string(source_.nbd.port_max) +
                            ") is taken or refused: " + what);
          }
          throw;
        }
      }
    }
  }

  void StartServers(const std::vector<DomainDisk>& chosen,
                    const std::string& why_full) {
    consistency_ = "shut-off";
    // libvirt cannot make a checkpoint of a domain that is off, so this
    // backup leaves its own persistent bitmap in each QCOW2 image (the
    // images are closed): it tracks the guest's writes from now on, and the
    // next backup, shut off again, reads only what it marks.
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
    const std::string bitmap = prefix_ + std::to_string(ms);
    for (const auto& d : chosen) {
      if (d.Incremental()) {
        if (RunOnHost({"qemu-img", "bitmap", "--add", "-f", "qcow2", d.source,
                       bitmap})) {
          bitmap_images_.push_back(d.source);
        } else {
          Log(LogLevel::kWarning, "VM " + vm_ + ": cannot add a bitmap to " +
                                      d.source + ": its next backup is a full");
        }
      }
    }
    if (!bitmap_images_.empty()) {
      new_checkpoint_ = bitmap;
      own_bitmap_ = true;
    }
    if (shell_) {
      for (const auto& d : chosen) {
        disks_.push_back(ServeOnHost(d, why_full));
      }
      return;
    }
    for (const auto& d : chosen) {
      DiskSource s;
      s.name = d.target;
      const std::string socket = dir_ + "/" + d.target + ".sock";
      s.uri = "nbd+unix:///?socket=" + socket;
      // Several clients at once (kServerClients): the copier's connections
      // (multi-conn), and one that is not Sendense's never waits on them.
      std::vector<std::string> argv{"qemu-nbd", "-r",           "-t",
                                    "-e",       kServerClients, "-f",
                                    d.format,   "-k",           socket};
      bool started = false;
      if (!base_.empty() && d.Incremental()) {
        auto with = argv;
        with.insert(with.end(), {"-B", base_, d.source});
        const pid_t pid = Spawn(with);
        if (WaitForSocket(pid, socket)) {
          servers_.push_back(pid);
          s.bitmap = base_;
          started = true;
        } else {
          s.full_reason = "the image of " + d.target +
                          " has no bitmap of checkpoint '" + base_ + "'";
        }
      } else {
        s.full_reason = !d.Incremental()
                            ? d.format + " image: no persistent bitmaps"
                        : !why_full.empty() ? why_full
                                            : "no earlier libvirt checkpoint";
      }
      if (!started) {
        argv.push_back(d.source);
        const pid_t pid = Spawn(argv);
        if (!WaitForSocket(pid, socket)) {
          throw Error(ErrorKind::kIo, "qemu-nbd could not serve " + d.source +
                                          " of domain '" + source_.domain +
                                          "'");
        }
        servers_.push_back(pid);
      }
      disks_.push_back(s);
    }
  }

  // `argv` run to its end where the images are; whether it succeeded.
  bool RunOnHost(const std::vector<std::string>& argv) const {
    if (!shell_) {
      return RunQuietly(argv);
    }
    const auto failed = shell_->Run(argv);
    if (failed) {
      Log(LogLevel::kWarning, "VM " + vm_ + ": " + *failed);
    }
    return !failed;
  }

  // A shut-off disk of another machine served there by qemu-nbd on TCP
  // (TLS with the host's server certificates, clients verified, unless
  // the host is --insecure-nbd) on the next free port of the host's range,
  // with the previous backup's bitmap when the image has it.
  DiskSource ServeOnHost(const DomainDisk& d, const std::string& why_full) {
    DiskSource s;
    s.name = d.target;
    bool with_bitmap = !base_.empty() && d.Incremental();
    if (!d.Incremental()) {
      s.full_reason = d.format + " image: no persistent bitmaps";
    } else if (base_.empty()) {
      s.full_reason =
          !why_full.empty() ? why_full : "no earlier libvirt checkpoint";
    }
    const std::string exportname = kExportPrefix + d.target;
    for (port_ = port_ == 0 ? source_.nbd.port_min : port_ + 1;
         port_ <= source_.nbd.port_max;) {
      std::vector<std::string> argv{"qemu-nbd",
                                    "-r",
                                    "-t",
                                    "-e",
                                    kServerClients,
                                    "-f",
                                    d.format,
                                    "-b",
                                    source_.nbd.address,
                                    "-p",
                                    std::to_string(port_),
                                    "-x",
                                    exportname};
      if (!source_.nbd.insecure) {
        argv.insert(argv.end(),
                    {"--object",
                     "tls-creds-x509,id=sendense-tls,endpoint=server,"
                     "verify-peer=on,dir=" +
                         source_.nbd.server_tls_dir,
                     "--tls-creds", "sendense-tls"});
      }
      if (with_bitmap) {
        argv.insert(argv.end(), {"-B", base_});
      }
      argv.push_back(d.source);
      std::string why;
      if (auto held = shell_->Hold(argv, why)) {
        held_.push_back(std::move(held));
        s.bitmap = with_bitmap ? base_ : "";
        SetTcpUri(s, port_, exportname);
        return s;
      }
      if (why.find("in use") != std::string::npos) {
        ++port_;
      } else if (with_bitmap) {
        with_bitmap = false;  // the image lacks it: a full of this disk
        s.full_reason = "the image of " + d.target +
                        " has no bitmap of checkpoint '" + base_ + "'";
      } else {
        throw Error(ErrorKind::kIo, "qemu-nbd could not serve " + d.source +
                                        " of domain '" + source_.domain +
                                        "' on " + UriHostName(source_.uri) +
                                        ": " + why);
      }
    }
    throw Error(ErrorKind::kBusy,
                "every NBD port of " + source_.nbd.address + " (" +
                    std::to_string(source_.nbd.port_min) + "-" +
                    std::to_string(source_.nbd.port_max) + ") is taken");
  }

  // Ends the job (or the servers) and, unless published, the checkpoint it
  // made. Never throws.
  void End() noexcept {
    try {
      if (job_) {
        domain_.AbortJob();
        WaitForJobEnd();
        job_ = false;
      }
      if (own_bitmap_) {
        EndOwnBitmaps();
      } else if (!published_ && !new_checkpoint_.empty()) {
        domain_.DeleteCheckpoint(new_checkpoint_);
        new_checkpoint_.clear();
      }
    } catch (const std::exception& e) {
      Log(LogLevel::kWarning, "VM " + vm_ + ": " + e.what());
    }
    StopServers();
    if (!dir_.empty()) {
      std::error_code ec;
      fs::remove_all(dir_, ec);
      dir_.clear();
    }
  }

  // A shut-off backup's bitmaps, once its servers have closed the images:
  // unpublished, the new bitmap goes; published, the previous backup's own
  // bitmap goes (a libvirt checkpoint's stays with libvirt).
  void EndOwnBitmaps() {
    StopServers();
    const auto checkpoints = domain_.Checkpoints();
    const bool base_is_libvirts =
        std::find(checkpoints.begin(), checkpoints.end(), base_) !=
        checkpoints.end();
    const std::string gone = !published_         ? new_checkpoint_
                             : !base_is_libvirts ? base_
                                                 : std::string();
    if (gone.empty()) {
      return;
    }
    for (const auto& image : bitmap_images_) {
      RunOnHost({"qemu-img", "bitmap", "--remove", "-f", "qcow2", image, gone});
    }
  }

  void StopServers() {
    held_.clear();
    for (const pid_t pid : servers_) {
      ::kill(pid, SIGTERM);
      ::waitpid(pid, nullptr, 0);
    }
    servers_.clear();
  }

  std::string vm_;
  LibvirtSource source_;
  Connection connection_;
  Domain domain_;
  std::string prefix_;  // of this VM's checkpoints
  std::string dir_;     // sockets and scratch files
  int port_ = 0;        // the job's NBD port, over TCP
  std::string base_;    // the previous point's checkpoint, if libvirt has it
  std::string new_checkpoint_;
  std::string consistency_;
  std::string xml_;
  bool job_ = false;
  bool published_ = false;
  bool own_bitmap_ = false;                 // shut off: our bitmap, not
  std::vector<std::string> bitmap_images_;  // a libvirt checkpoint

  std::vector<pid_t> servers_;
  std::optional<HostShell> shell_;  // a shut-off domain of another machine
  std::vector<std::unique_ptr<HeldProgram>> held_;  // its servers there
  std::vector<DiskSource> disks_;
};

}  // namespace

BackupSourceOpener Opener(const std::string& vm, const LibvirtSource& source) {
  return [vm, source](Catalog& catalog, int64_t) {
    return std::make_unique<Session>(vm, source, catalog);
  };
}

std::vector<DiscoveredDomain> Discover(const std::string& uri) {
  const Connection connection(uri);
  std::vector<DiscoveredDomain> out;
  for (const auto& d : connection.Domains()) {
    out.push_back({d.name(), d.active(), ParseDomainDisks(d.Xml())});
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

void RequireDomain(const std::string& uri, const std::string& domain) {
  std::vector<std::string> names;
  for (const auto& d : Discover(uri)) {
    if (d.name == domain) {
      return;
    }
    names.push_back(d.name);
  }
  const auto near = NearestName(domain, names);
  throw Error(
      ErrorKind::kNotFound,
      "libvirt at " + uri + " has no domain '" + domain + "'" +
          (near ? "; did you mean '" + *near + "'?"
                : " (see `sendense vm discover --libvirt " + uri + "`)"));
}

}  // namespace sendense::libvirt
