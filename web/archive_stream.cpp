#include "web/archive_stream.h"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>

#include <memory>

#include "engine/error.h"

namespace sendense::web {
namespace {

using Writer = std::function<void(const char*, size_t)>;

la_ssize_t OnWrite(struct archive*, void* data, const void* buf, size_t n) {
  (*static_cast<const Writer*>(data))(static_cast<const char*>(buf), n);
  return static_cast<la_ssize_t>(n);
}

void Check(struct archive* a, int rc) {
  if (rc < ARCHIVE_WARN) {
    throw Error(ErrorKind::kIo,
                std::string("archive: ") + archive_error_string(a));
  }
}

struct Walker {
  struct archive* a;
  GuestIndex& index;
  guest::Appliance& app;
  std::string mount;

  void Add(const GuestEntry& e, const std::string& name) {
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
    Check(a, archive_write_header(a, entry.get()));
    if (type == S_IFREG) {
      constexpr size_t kChunk = 1 << 20;
      for (uint64_t done = 0; done < e.size;) {
        const size_t n =
            static_cast<size_t>(std::min<uint64_t>(kChunk, e.size - done));
        const std::string data = app.Pread(mount + e.path, n, done);
        if (data.empty()) {
          throw Error(ErrorKind::kIo, e.path + " is shorter than indexed");
        }
        if (archive_write_data(a, data.data(), data.size()) < 0) {
          Check(a, ARCHIVE_FATAL);
        }
        done += data.size();
      }
    }
    if (type == S_IFDIR) {
      int64_t after = 0;
      while (true) {
        const auto page = index.Children(e.id, after, 1000);
        if (page.empty()) {
          break;
        }
        for (const auto& child : page) {
          Add(child, name + "/" + child.name);
          after = child.id;
        }
      }
    }
  }
};

}  // namespace

void StreamArchive(const std::string& format,
                   GuestIndex& index,
                   const GuestEntry& root,
                   guest::Appliance& app,
                   const std::string& mount,
                   const Writer& write) {
  std::unique_ptr<struct archive, decltype(&archive_write_free)> a(
      archive_write_new(), archive_write_free);
  Check(a.get(), format == "zip"
                     ? archive_write_set_format_zip(a.get())
                     : archive_write_set_format_pax_restricted(a.get()));
  archive_write_set_bytes_in_last_block(a.get(), 1);
  Check(a.get(), archive_write_open(a.get(), const_cast<Writer*>(&write),
                                    nullptr, OnWrite, nullptr));
  Walker walker{a.get(), index, app, mount};
  walker.Add(root, root.name.empty() ? "root" : root.name);
  Check(a.get(), archive_write_close(a.get()));
}

}  // namespace sendense::web
