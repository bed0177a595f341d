// Connection::Upload: a local file onto the host through libvirt's storage
// API, so that a VM restored for another machine has its disks there.

#include <fcntl.h>
#include <libvirt/libvirt.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <sstream>
#include <vector>

#include <pugixml.hpp>

#include "engine/error.h"
#include "engine/libvirt/connection.h"
#include "engine/libvirt/libvirt_error.h"

namespace sendense::libvirt {
namespace {

struct FreePool {
  void operator()(virStoragePool* p) const { virStoragePoolFree(p); }
};
struct FreeVolume {
  void operator()(virStorageVol* v) const { virStorageVolFree(v); }
};
struct FreeStream {
  void operator()(virStream* s) const { virStreamFree(s); }
};
using Pool = std::unique_ptr<virStoragePool, FreePool>;
using Volume = std::unique_ptr<virStorageVol, FreeVolume>;
using Stream = std::unique_ptr<virStream, FreeStream>;

std::string Xml(const pugi::xml_document& doc) {
  std::ostringstream out;
  doc.save(out, "", pugi::format_raw);
  return out.str();
}

// A transient directory pool over `folder` (libvirt forgets it when it is
// destroyed; the folder and its files stay).
std::string TransientPoolXml(const std::string& folder) {
  static std::atomic<int> count{0};
  pugi::xml_document doc;
  auto pool = doc.append_child("pool");
  pool.append_attribute("type") = "dir";
  pool.append_child("name").text() =
      ("sendense-upload-" + std::to_string(::getpid()) + "-" +
       std::to_string(count++))
          .c_str();
  pool.append_child("target").append_child("path").text() = folder.c_str();
  return Xml(doc);
}

// A raw file of `size` bytes, sparse (allocation 0) until the upload
// writes it: the uploaded bytes are the file, whatever their format.
std::string VolumeXml(const std::string& name, uint64_t size) {
  pugi::xml_document doc;
  auto volume = doc.append_child("volume");
  volume.append_child("name").text() = name.c_str();
  auto capacity = volume.append_child("capacity");
  capacity.append_attribute("unit") = "bytes";
  capacity.text() = std::to_string(size).c_str();
  volume.append_child("allocation").text() = "0";
  volume.append_child("target").append_child("format").append_attribute(
      "type") = "raw";
  return Xml(doc);
}

// Destroys a transient pool when the upload ends, whichever way.
class PoolLease {
 public:
  PoolLease(Pool pool, bool transient)
      : pool_(std::move(pool)), transient_(transient) {}
  ~PoolLease() {
    if (transient_) {
      virStoragePoolDestroy(pool_.get());
    }
  }
  virStoragePool* get() const { return pool_.get(); }

 private:
  Pool pool_;
  bool transient_;
};

// Sends the file's bytes down `stream`; false (libvirt's reason kept)
// when libvirt refuses them, Error when the file cannot be read.
bool SendFile(const std::string& from, virStream* stream) {
  const int fd = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    throw Error(ErrorKind::kIo, "cannot read " + from);
  }
  std::vector<char> buffer(4 << 20);
  bool sent = true;
  while (sent) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0) {
      ::close(fd);
      throw Error(ErrorKind::kIo, "cannot read " + from);
    }
    if (n == 0) {
      break;
    }
    for (ssize_t done = 0; done < n && sent;) {
      const int m = virStreamSend(stream, buffer.data() + done,
                                  static_cast<size_t>(n - done));
      sent = m > 0;
      done += m > 0 ? m : 0;
    }
  }
  ::close(fd);
  return sent;
}

}  // namespace

void Connection::Upload(const std::string& from,
                        const std::string& to,
                        bool replace) const {
  namespace fs = std::filesystem;
  const fs::path target = fs::path(to).lexically_normal();
  const std::string folder = target.parent_path();
  const std::string name = target.filename();
  struct stat st {};
  if (::stat(from.c_str(), &st) != 0) {
    throw Error(ErrorKind::kIo, "cannot read " + from);
  }

  Pool found(virStoragePoolLookupByTargetPath(c_.get(), folder.c_str()));
  const bool transient = !found || virStoragePoolIsActive(found.get()) != 1;
  if (transient) {
    found.reset(
        virStoragePoolCreateXML(c_.get(), TransientPoolXml(folder).c_str(), 0));
    if (!found) {
      Fail("cannot write into " + folder + " on the host of " + uri_);
    }
  }
  const PoolLease pool(std::move(found), transient);
  virStoragePoolRefresh(pool.get(), 0);  // files made since it last looked

  if (Volume old{virStorageVolLookupByName(pool.get(), name.c_str())}) {
    if (!replace) {
      throw Error(ErrorKind::kAlreadyExists,
                  to + " already exists on the host of " + uri_ +
                      ": --force replaces it");
    }
    if (virStorageVolDelete(old.get(), 0) != 0) {
      Fail("cannot replace " + to + " on the host of " + uri_);
    }
  }
  const Volume volume(virStorageVolCreateXML(
      pool.get(), VolumeXml(name, static_cast<uint64_t>(st.st_size)).c_str(),
      0));
  if (!volume) {
    Fail("cannot create " + to + " on the host of " + uri_);
  }
  const Stream stream(virStreamNew(c_.get(), 0));
  std::string why;
  try {
    if (!stream ||
        virStorageVolUpload(volume.get(), stream.get(), 0,
                            static_cast<unsigned long long>(st.st_size),
                            0) != 0 ||
        !SendFile(from, stream.get()) || virStreamFinish(stream.get()) != 0) {
      why = LastError();
    }
  } catch (const Error& e) {
    why = e.what();
  }
  if (!why.empty()) {
    if (stream) {
      virStreamAbort(stream.get());
    }
    virStorageVolDelete(volume.get(), 0);
    Fail("cannot copy " + from + " to " + to + " on the host of " + uri_, why);
  }
}

}  // namespace sendense::libvirt
