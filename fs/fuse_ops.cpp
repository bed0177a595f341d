#include "fs/fuse_ops.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/log.h"
#include "fs/errno_map.h"
#include "fs/fs_context.h"

// FUSE's side of the namespace (engine/browse): requests become namespace
// calls and their answers replies. No browsing logic lives here; what is
// FUSE's own is the cache timeouts, directory offsets and which requests
// go to worker threads.
namespace sendense::fs {
namespace {

using browse::Attr;
using browse::kGuestBase;

constexpr double kForever = 86400.0 * 365;  // published points never change
constexpr double kLive = 1.0;               // folders that gain points

struct OpenFile {
  std::shared_ptr<browse::Reader> reader;
  Attr attr;  // answers getattr once the node has left the tree
};

struct OpenDir {
  std::shared_ptr<const browse::TreeSnapshot>
      snapshot;  // one listing, one tree
  bool immutable = false;
};

FsContext& Ctx(fuse_req_t req) {
  return *static_cast<FsContext*>(fuse_req_userdata(req));
}

// Runs `body`; any exception becomes an errno reply. `body` replies itself
// on success.
template <typename F>
void Checked(fuse_req_t req, const char* op, F&& body) {
  try {
    body();
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::kCorrupt || e.kind() == ErrorKind::kIo) {
      Log(LogLevel::kError, std::string(op) + ": " + e.what());
    }
    fuse_reply_err(req, ToErrno(e));
  } catch (const std::bad_alloc&) {
    fuse_reply_err(req, ENOMEM);
  } catch (const std::exception& e) {
    Log(LogLevel::kError, std::string(op) + ": " + e.what());
    fuse_reply_err(req, EIO);
  }
}

// A worker's read buffer, reused and never zeroed (the reader fills it).
std::span<std::byte> ReadBuffer(size_t n) {
  thread_local std::unique_ptr<std::byte[]> buffer;
  thread_local size_t capacity = 0;
  if (capacity < n) {
    buffer.reset(new std::byte[n]);
    capacity = n;
  }
  return {buffer.get(), n};
}

double Timeout(const Attr& a) {
  return a.immutable ? kForever : kLive;
}

struct stat ToStat(const Attr& a) {
  struct stat st {};
  st.st_ino = a.id;
  st.st_mode = a.mode;
  st.st_nlink = a.nlink;
  st.st_uid = a.uid;
  st.st_gid = a.gid;
  st.st_rdev = a.rdev;
  st.st_size = static_cast<off_t>(a.size);
  st.st_blksize = 65536;
  st.st_blocks = static_cast<blkcnt_t>((a.size + 511) / 512);
  st.st_atim = {a.atime_ns / 1000000000, a.atime_ns % 1000000000};
  st.st_mtim = {a.mtime_ns / 1000000000, a.mtime_ns % 1000000000};
  st.st_ctim = {a.ctime_ns / 1000000000, a.ctime_ns % 1000000000};
  return st;
}

// How long a folder's names may be cached (its entry timeouts).
double FolderTimeout(FsContext& ctx, fuse_ino_t ino) {
  return ctx.ns.Immutable(ino) ? kForever : kLive;
}

void Init(void*, fuse_conn_info* conn) {
  conn->max_read = 1 << 20;  // as in the max_read mount option
  conn->max_readahead = 1 << 20;
  conn->max_write = 1 << 20;  // libfuse derives max_pages from it
  conn->want |= FUSE_CAP_ASYNC_READ;
}

void Lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  Checked(req, "lookup", [&] {
    FsContext& ctx = Ctx(req);
    fuse_entry_param e{};
    // A name may vanish from a live folder (a point removed from the
    // catalog): the entry lives as long as the parent's content, the
    // attributes as long as the node's. A miss is cached the same way.
    e.entry_timeout = FolderTimeout(ctx, parent);
    if (const auto attr = ctx.ns.Lookup(parent, name)) {
      e.ino = attr->id;
      e.attr = ToStat(*attr);
      e.attr_timeout = Timeout(*attr);
    }
    fuse_reply_entry(req, &e);
  });
}

void GetAttr(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Checked(req, "getattr", [&] {
    FsContext& ctx = Ctx(req);
    try {
      const Attr a = ctx.ns.Stat(ino);
      const struct stat st = ToStat(a);
      fuse_reply_attr(req, &st, Timeout(a));
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::kNotFound || fi == nullptr || fi->fh == 0) {
        throw;
      }
      // The point vanished but this file is still open.
      const struct stat st = ToStat(reinterpret_cast<OpenFile*>(fi->fh)->attr);
      fuse_reply_attr(req, &st, kLive);
    }
  });
}

void ReadLink(fuse_req_t req, fuse_ino_t ino) {
  Checked(req, "readlink",
          [&] { fuse_reply_readlink(req, Ctx(req).ns.ReadLink(ino).c_str()); });
}

// One reply of readdir or readdirplus (which carries the attributes, so
// that `ls -l` or `find -printf` need no lookup per entry).
class DirReply {
 public:
  DirReply(fuse_req_t req, size_t size, bool plus)
      : req_(req), plus_(plus), buf_(size) {}
  // False when the entry no longer fits. `entry_timeout` for the name,
  // `attr_timeout` for the attributes.
  bool Add(const std::string& name,
           const struct stat& st,
           double entry_timeout,
           double attr_timeout,
           off_t next) {
    const size_t room = buf_.size() - used_;
    size_t need;
    if (plus_) {
      fuse_entry_param e{};
      e.ino = st.st_ino;
      e.attr = st;
      e.attr_timeout = attr_timeout;
      e.entry_timeout = entry_timeout;
      need = fuse_add_direntry_plus(req_, buf_.data() + used_, room,
                                    name.c_str(), &e, next);
    } else {
      need = fuse_add_direntry(req_, buf_.data() + used_, room, name.c_str(),
                               &st, next);
    }
    if (need > room) {
      return false;
    }
    used_ += need;
    return true;
  }
  void Send() { fuse_reply_buf(req_, buf_.data(), used_); }

 private:
  fuse_req_t req_;
  bool plus_;
  std::vector<char> buf_;
  size_t used_ = 0;
};

// Offsets: 1 after ".", 2 after "..", then 2 + the namespace's cookie of
// the entry just listed.
void ReadDirectoryPage(fuse_req_t req,
                       fuse_ino_t ino,
                       size_t size,
                       off_t off,
                       fuse_file_info* fi,
                       bool plus) {
  Checked(req, "readdir", [&] {
    const auto* dir = reinterpret_cast<OpenDir*>(fi->fh);
    const double names = dir->immutable ? kForever : kLive;
    DirReply reply(req, size, plus);
    struct stat dot {};
    dot.st_ino = ino;
    dot.st_mode = S_IFDIR | 0555;
    if ((off < 1 && !reply.Add(".", dot, names, names, 1)) ||
        (off < 2 && !reply.Add("..", dot, names, names, 2))) {
      reply.Send();
      return;
    }
    uint64_t cookie = off > 2 ? static_cast<uint64_t>(off - 2) : 0;
    while (true) {
      const browse::Listing page =
          Ctx(req).ns.List(ino, cookie, 256, dir->snapshot.get());
      for (const auto& e : page.entries) {
        if (!reply.Add(e.name, ToStat(e.attr), names, Timeout(e.attr),
                       static_cast<off_t>(e.cookie + 2))) {
          reply.Send();
          return;
        }
        cookie = e.cookie;
      }
      if (!page.more) {
        break;
      }
    }
    reply.Send();
  });
}

void ReadDirectory(fuse_req_t req,
                   fuse_ino_t ino,
                   size_t size,
                   off_t off,
                   fuse_file_info* fi) {
  ReadDirectoryPage(req, ino, size, off, fi, false);
}

void ReadDirectoryPlus(fuse_req_t req,
                       fuse_ino_t ino,
                       size_t size,
                       off_t off,
                       fuse_file_info* fi) {
  ReadDirectoryPage(req, ino, size, off, fi, true);
}

void OpenDirectory(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Checked(req, "opendir", [&] {
    FsContext& ctx = Ctx(req);
    // A listing comes from one snapshot even if the tree changes meanwhile.
    auto dir = std::make_unique<OpenDir>();
    dir->snapshot = ctx.ns.Current();
    const Attr a = ctx.ns.Stat(ino);
    if ((a.mode & S_IFMT) != S_IFDIR) {
      fuse_reply_err(req, ENOTDIR);
      return;
    }
    dir->immutable = a.immutable;
    fi->cache_readdir = a.immutable;
    fi->keep_cache = a.immutable;
    fi->fh = reinterpret_cast<uint64_t>(dir.get());
    if (fuse_reply_open(req, fi) == 0) {
      dir.release();  // ReleaseDirectory frees it
    }
  });
}

void ReleaseDirectory(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  delete reinterpret_cast<OpenDir*>(fi->fh);
  fuse_reply_err(req, 0);
}

void Open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Checked(req, "open", [&] {
    if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) {
      fuse_reply_err(req, EROFS);
      return;
    }
    FsContext& ctx = Ctx(req);
    auto file = std::make_unique<OpenFile>();
    file->attr = ctx.ns.Stat(ino);
    file->reader = ctx.ns.Open(ino);
    fi->keep_cache = file->attr.immutable;
    fi->fh = reinterpret_cast<uint64_t>(ctx.open_files.Keep(std::move(file)));
    if (fuse_reply_open(req, fi) != 0) {
      ctx.open_files.Drop(fi->fh);  // the opener is gone: no release comes
    }
  });
}

void Read(fuse_req_t req,
          fuse_ino_t,
          size_t size,
          off_t off,
          fuse_file_info* fi) {
  Checked(req, "read", [&] {
    const auto reader = reinterpret_cast<OpenFile*>(fi->fh)->reader;
    const uint64_t start = static_cast<uint64_t>(off);
    if (reader->in_memory()) {
      const std::span<std::byte> buf = ReadBuffer(size);
      const size_t n = reader->Read(buf, start);
      fuse_reply_buf(req, reinterpret_cast<const char*>(buf.data()), n);
      return;
    }
    // Disk and guest reads may be slow (a guest file's appliance may be
    // starting): a worker reads and replies, the loop goes on.
    Ctx(req).reads->Submit([req, reader, start, size] {
      Checked(req, "read", [&] {
        const std::span<std::byte> buf = ReadBuffer(size);
        const size_t n = reader->Read(buf, start);
        fuse_reply_buf(req, reinterpret_cast<const char*>(buf.data()), n);
      });
    });
  });
}

void Release(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  Ctx(req).open_files.Drop(fi->fh);
  fuse_reply_err(req, 0);
}

void Lseek(fuse_req_t req,
           fuse_ino_t,
           off_t off,
           int whence,
           fuse_file_info* fi) {
  Checked(req, "lseek", [&] {
    const auto& reader = reinterpret_cast<OpenFile*>(fi->fh)->reader;
    if (off < 0 || static_cast<uint64_t>(off) >= reader->size()) {
      fuse_reply_err(req, ENXIO);
      return;
    }
    if (whence != SEEK_DATA && whence != SEEK_HOLE) {
      fuse_reply_err(req, EINVAL);
      return;
    }
    const auto to =
        reader->Seek(static_cast<uint64_t>(off), whence == SEEK_DATA);
    if (!to) {
      fuse_reply_err(req, ENXIO);
      return;
    }
    fuse_reply_lseek(req, static_cast<off_t>(*to));
  });
}

void StatFs(fuse_req_t req, fuse_ino_t) {
  struct statvfs st {};
  st.f_bsize = 65536;
  st.f_frsize = 65536;
  st.f_namemax = 255;
  st.f_flag = ST_RDONLY | ST_NOSUID | ST_NODEV;
  fuse_reply_statfs(req, &st);
}

// No entry has extended attributes: ENODATA for any name (as a
// filesystem with xattrs that lacks this one answers; Samba asks for its
// DOS attributes), an empty list, EROFS for changes.
void GetXattr(fuse_req_t req, fuse_ino_t, const char*, size_t) {
  fuse_reply_err(req, ENODATA);
}
void ListXattr(fuse_req_t req, fuse_ino_t, size_t size) {
  if (size == 0) {
    fuse_reply_xattr(req, 0);
  } else {
    fuse_reply_buf(req, nullptr, 0);
  }
}
void SetXattr(fuse_req_t req,
              fuse_ino_t,
              const char*,
              const char*,
              size_t,
              int) {
  fuse_reply_err(req, EROFS);
}
void RemoveXattr(fuse_req_t req, fuse_ino_t, const char*) {
  fuse_reply_err(req, EROFS);
}

// Everything that would change the tree.
void SetAttr(fuse_req_t req, fuse_ino_t, struct stat*, int, fuse_file_info*) {
  fuse_reply_err(req, EROFS);
}
void MkNod(fuse_req_t req, fuse_ino_t, const char*, mode_t, dev_t) {
  fuse_reply_err(req, EROFS);
}
void MkDir(fuse_req_t req, fuse_ino_t, const char*, mode_t) {
  fuse_reply_err(req, EROFS);
}
void Unlink(fuse_req_t req, fuse_ino_t, const char*) {
  fuse_reply_err(req, EROFS);
}
void SymLink(fuse_req_t req, const char*, fuse_ino_t, const char*) {
  fuse_reply_err(req, EROFS);
}
void Rename(fuse_req_t req,
            fuse_ino_t,
            const char*,
            fuse_ino_t,
            const char*,
            unsigned) {
  fuse_reply_err(req, EROFS);
}
void Link(fuse_req_t req, fuse_ino_t, fuse_ino_t, const char*) {
  fuse_reply_err(req, EROFS);
}
void Create(fuse_req_t req, fuse_ino_t, const char*, mode_t, fuse_file_info*) {
  fuse_reply_err(req, EROFS);
}
void Write(fuse_req_t req,
           fuse_ino_t,
           const char*,
           size_t,
           off_t,
           fuse_file_info*) {
  fuse_reply_err(req, EROFS);
}

fuse_lowlevel_ops MakeOps() {
  fuse_lowlevel_ops ops{};
  ops.init = Init;
  ops.lookup = Lookup;
  ops.getattr = GetAttr;
  ops.readlink = ReadLink;
  ops.opendir = OpenDirectory;
  ops.readdir = ReadDirectory;
  ops.readdirplus = ReadDirectoryPlus;
  ops.releasedir = ReleaseDirectory;
  ops.open = Open;
  ops.read = Read;
  ops.release = Release;
  ops.lseek = Lseek;
  ops.statfs = StatFs;
  ops.setattr = SetAttr;
  ops.mknod = MkNod;
  ops.mkdir = MkDir;
  ops.unlink = Unlink;
  ops.rmdir = Unlink;
  ops.symlink = SymLink;
  ops.rename = Rename;
  ops.link = Link;
  ops.create = Create;
  ops.write = Write;
  ops.getxattr = GetXattr;
  ops.listxattr = ListXattr;
  ops.setxattr = SetXattr;
  ops.removexattr = RemoveXattr;
  return ops;
}

}  // namespace

const fuse_lowlevel_ops& GetFuseOperations() {
  static const fuse_lowlevel_ops ops = MakeOps();
  return ops;
}

}  // namespace sendense::fs
