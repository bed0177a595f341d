#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

typedef struct _virConnect virConnect;
typedef struct _virDomain virDomain;

namespace sendense::libvirt {

// What an Error says after libvirt's message when libvirt gave none.
inline constexpr const char* kNoReason = "libvirt gave no reason";

// A domain of an open connection. Every failure is an Error with
// libvirt's own message.
class Domain {
 public:
  std::string name() const;
  bool active() const;
  // The XML as libvirt runs it (`inactive`: as it is defined).
  std::string Xml(bool inactive = false) const;
  std::vector<std::string> Checkpoints() const;
  // Deletes the checkpoint (its bitmap merges into its parent's, so the
  // parent still tracks every change since it). When libvirt cannot (its
  // bitmap never reached the image: QEMU was killed during the backup
  // that made it), only libvirt's record of it is removed and the answer
  // says why; "" otherwise.
  std::string DeleteCheckpoint(const std::string& name) const;
  // Starts a backup job, creating the checkpoint of `checkpoint_xml`.
  void BeginBackup(const std::string& backup_xml,
                   const std::string& checkpoint_xml) const;
  // The running backup job's XML, if there is one.
  std::optional<std::string> BackupXml() const;
  // Ends the running job; false when there was none.
  bool AbortJob() const;
  // Freezes the guest's filesystems through its agent; false when the
  // agent does not answer (nothing is frozen then).
  bool Freeze() const;
  void Thaw() const;

 private:
  friend class Connection;
  struct Close {
    void operator()(virDomain* d) const;
  };
  explicit Domain(virDomain* d) : d_(d) {}
  std::unique_ptr<virDomain, Close> d_;
};

class Connection {
 public:
  // Error kIo naming the URI when libvirt cannot be reached.
  explicit Connection(const std::string& uri);
  // Error kNotFound when there is no such domain.
  Domain Lookup(const std::string& name) const;
  std::vector<Domain> Domains() const;
  // Defines a persistent domain from `xml` (not started).
  void Define(const std::string& xml) const;
  // Copies the local file `from` to the path `to` on the host, through
  // libvirt's storage API (a volume upload: any URI, qemu+ssh, qemu+tls,
  // qemu+tcp), into the storage pool whose folder is `to`'s, or a
  // transient one made for it. `to`'s folder must exist on the host; a
  // file there is replaced only with `replace` (else kAlreadyExists). A
  // failed upload leaves no file. volume_upload.cpp.
  void Upload(const std::string& from,
              const std::string& to,
              bool replace) const;
  // The versions of the host's libvirt and hypervisor (QEMU), "9.0.0".
  std::string LibvirtVersion() const;
  std::string HypervisorVersion() const;
  const std::string& uri() const { return uri_; }

 private:
  struct Close {
    void operator()(virConnect* c) const;
  };
  std::string uri_;
  std::unique_ptr<virConnect, Close> c_;
};

}  // namespace sendense::libvirt
