#include "engine/browse/archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>

#include <exception>
#include <memory>
#include <span>
#include <vector>

#include "engine/error.h"

namespace sendense::browse {
namespace {

using Writer = std::function<void(const char*, size_t)>;

// What libarchive writes through: the caller's writer, and what it threw
// (an exception never unwinds through libarchive's C frames).
struct Sink {
  const Writer& write;
  std::exception_ptr failed;
};

la_ssize_t OnWrite(struct archive*, void* data, const void* buf, size_t n) {
  auto* sink = static_cast<Sink*>(data);
  try {
    sink->write(static_cast<const char*>(buf), n);
  } catch (...) {
    sink->failed = std::current_exception();
    return -1;
  }
  return static_cast<la_ssize_t>(n);
}

void Check(struct archive* a, int rc, const Sink* sink = nullptr) {
  if (sink && sink->failed) {
    std::rethrow_exception(sink->failed);
  }
  if (rc < ARCHIVE_WARN) {
    throw Error(ErrorKind::kIo,
                std::string("archive: ") + archive_error_string(a));
  }
}

struct Walker {
  struct archive* a;
  Namespace& ns;
  const Sink& sink;

  void Add(const Attr& e, const std::string& name) {
    const uint32_t type = e.mode & S_IFMT;
    if (type != S_IFREG && type != S_IFDIR && type != S_IFLNK) {
      return;  // devices, fifos, sockets: no content to restore
    }
    std::unique_ptr<archive_entry, decltype(&archive_entry_free)> entry(
        archive_entry_new(), archive_entry_free);
    archive_entry_copy_pathname(entry.get(), name.c_str());
    archive_entry_set_mode(entry.get(), e.mode);
    archive_entry_set_uid(entry.get(), e.uid);
    archive_entry_set_gid(entry.get(), e.gid);
    archive_entry_set_mtime(entry.get(), e.mtime_ns / 1000000000,
                            e.mtime_ns % 1000000000);
    archive_entry_set_size(
        entry.get(), type == S_IFREG ? static_cast<la_int64_t>(e.size) : 0);
    if (type == S_IFLNK) {
      archive_entry_copy_symlink(entry.get(), e.target.c_str());
    }
    Check(a, archive_write_header(a, entry.get()), &sink);
    if (type == S_IFREG) {
      const auto reader = ns.Open(e.id);
      std::vector<std::byte> buf(1 << 20);
      for (uint64_t done = 0; done < e.size;) {
        const size_t want =
            static_cast<size_t>(std::min<uint64_t>(buf.size(), e.size - done));
        const size_t n = reader->Read(std::span(buf).first(want), done);
        if (n == 0) {
          throw Error(ErrorKind::kIo, name + " is shorter than indexed");
        }
        if (archive_write_data(a, buf.data(), n) < 0) {
          Check(a, ARCHIVE_FATAL, &sink);
        }
        done += n;
      }
    }
    if (type == S_IFDIR) {
      uint64_t cookie = 0;
      while (true) {
        const Listing page = ns.List(e.id, cookie, 1000);
        for (const auto& child : page.entries) {
          Add(child.attr, name + "/" + child.name);
          cookie = child.cookie;
        }
        if (!page.more) {
          break;
        }
      }
    }
  }
};

}  // namespace

void StreamArchive(const std::string& format,
                   Namespace& ns,
                   NodeId root,
                   const std::string& name,
                   const Writer& write) {
  std::unique_ptr<struct archive, decltype(&archive_write_free)> a(
      archive_write_new(), archive_write_free);
  Check(a.get(), format == "zip"
                     ? archive_write_set_format_zip(a.get())
                     : archive_write_set_format_pax_restricted(a.get()));
  archive_write_set_bytes_in_last_block(a.get(), 1);
  Sink sink{write, nullptr};
  Check(a.get(), archive_write_open(a.get(), &sink, nullptr, OnWrite, nullptr));
  try {
    Walker walker{a.get(), ns, sink};
    walker.Add(ns.Stat(root), name);
    Check(a.get(), archive_write_close(a.get()), &sink);
  } catch (...) {
    // A failed read or write ends the archive where it stands: no padding
    // of the entry, no trailer or central directory (archive_write_free
    // would write them), so no reader takes it for whole.
    archive_write_fail(a.get());
    throw;
  }
}

}  // namespace sendense::browse
