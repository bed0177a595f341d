#include "fs/fuse_ops.h"

#include <fcntl.h>
#include <sys/statvfs.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "engine/guest/indexer.h"
#include "engine/log.h"
#include "fs/errno_map.h"
#include "fs/fs_context.h"

namespace sendense::fs {

std::shared_ptr<const qcow2::ChainReader> ChainCache::Open(
    const std::string& path) {
  std::lock_guard lock(mutex_);
  if (auto existing = open_[path].lock()) {
    return existing;
  }
  std::shared_ptr<const qcow2::ChainReader> reader =
      qcow2::ChainReader::Open(path);
  open_[path] = reader;
  return reader;
}

namespace {

constexpr double kForever = 86400.0 * 365;  // published points never change
constexpr double kLive = 1.0;               // directories that gain points

struct OpenFile {
  bool guest = false;  // a guest file, read through an appliance
  Node::Kind kind = Node::Kind::kJson;
  struct stat st {};
  std::string content;                              // kJson
  std::shared_ptr<const qcow2::ChainReader> chain;  // kRawDisk
  int64_t backup_id = 0;                            // guest
  std::string guest_path;  // guest: "/sda1/etc/motd" in the appliance
};

// Guest entries have inodes of their own range: kGuestBase + the index id
// of the entry (of its first name, for hard links).
constexpr uint64_t kGuestBase = uint64_t{1} << 48;

struct OpenDir {
  std::shared_ptr<const TreeSnapshot> snapshot;
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
    fuse_reply_err(req, ToErrno(e.kind()));
  } catch (const std::bad_alloc&) {
    fuse_reply_err(req, ENOMEM);
  } catch (const std::exception& e) {
    Log(LogLevel::kError, std::string(op) + ": " + e.what());
    fuse_reply_err(req, EIO);
  }
}

// A worker's read buffer, reused and never zeroed (the chain fills it).
std::span<std::byte> ReadBuffer(size_t n) {
  thread_local std::unique_ptr<std::byte[]> buffer;
  thread_local size_t capacity = 0;
  if (capacity < n) {
    buffer.reset(new std::byte[n]);
    capacity = n;
  }
  return {buffer.get(), n};
}

double Timeout(const Node& n) {
  return n.immutable ? kForever : kLive;
}

struct stat GuestStat(const GuestEntry& e, uint64_t ino) {
  struct stat st {};
  st.st_ino = ino;
  st.st_mode = e.mode;
  st.st_nlink = e.nlink;
  st.st_uid = e.uid;
  st.st_gid = e.gid;
  st.st_rdev = e.rdev;
  st.st_size = static_cast<off_t>(e.size);
  st.st_blksize = 65536;
  st.st_blocks = static_cast<blkcnt_t>((e.size + 511) / 512);
  st.st_atim = {e.atime_ns / 1000000000, e.atime_ns % 1000000000};
  st.st_mtim = {e.mtime_ns / 1000000000, e.mtime_ns % 1000000000};
  st.st_ctim = {e.ctime_ns / 1000000000, e.ctime_ns % 1000000000};
  return st;
}

uint64_t GuestIno(const GuestEntry& e) {
  return kGuestBase + static_cast<uint64_t>(e.link_id);
}

// The guest index entry behind `ino`: a guest inode, or a files/<fs>
// folder (whose inode is the tree's). 0 when `ino` is neither.
int64_t GuestEntryOf(const TreeSnapshot& snap, uint64_t ino) {
  if (ino >= kGuestBase) {
    return static_cast<int64_t>(ino - kGuestBase);
  }
  const Node* n = snap.Find(ino);
  return n != nullptr && n->kind == Node::Kind::kGuestRoot ? n->guest_entry : 0;
}

std::optional<GuestEntry> IndexGet(FsContext& ctx, int64_t id) {
  std::lock_guard lock(ctx.index_mutex);
  return ctx.index->Get(id);
}

std::optional<GuestEntry> IndexChild(FsContext& ctx,
                                     int64_t parent,
                                     const std::string& name) {
  std::lock_guard lock(ctx.index_mutex);
  return ctx.index->Child(parent, name);
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
    const auto snap = ctx.tree.Current();
    if (const int64_t dir = GuestEntryOf(*snap, parent)) {
      fuse_entry_param e{};
      e.entry_timeout = kForever;  // an index never changes
      if (const auto entry = IndexChild(ctx, dir, name)) {
        e.ino = GuestIno(*entry);
        e.attr = GuestStat(*entry, e.ino);
        e.attr_timeout = kForever;
      }
      fuse_reply_entry(req, &e);
      return;
    }
    const Node* p = snap->Find(parent);
    const Node* n = snap->Child(parent, name);
    fuse_entry_param e{};
    if (n == nullptr) {
      // A negative entry, cached as long as the parent cannot change.
      e.entry_timeout = p != nullptr ? Timeout(*p) : kLive;
      fuse_reply_entry(req, &e);
      return;
    }
    e.ino = n->ino;
    e.attr = n->Stat();
    if (n->kind == Node::Kind::kGuestRoot) {
      if (const auto root = IndexGet(ctx, n->guest_entry)) {
        e.attr = GuestStat(*root, n->ino);
      }
    }
    // A name may vanish from a live folder (a point removed from the
    // catalog): the entry lives as long as the parent's content, the
    // attributes as long as the node's.
    e.attr_timeout = Timeout(*n);
    e.entry_timeout = p != nullptr ? Timeout(*p) : kLive;
    fuse_reply_entry(req, &e);
  });
}

void GetAttr(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Checked(req, "getattr", [&] {
    FsContext& ctx = Ctx(req);
    const auto snap = ctx.tree.Current();
    if (const int64_t id = GuestEntryOf(*snap, ino)) {
      if (const auto entry = IndexGet(ctx, id)) {
        const struct stat st = GuestStat(*entry, ino);
        fuse_reply_attr(req, &st, kForever);
      } else {
        fuse_reply_err(req, ENOENT);
      }
    } else if (const Node* n = snap->Find(ino)) {
      const struct stat st = n->Stat();
      fuse_reply_attr(req, &st, Timeout(*n));
    } else if (fi != nullptr && fi->fh != 0) {
      // The point vanished but this file is still open.
      fuse_reply_attr(req, &reinterpret_cast<OpenFile*>(fi->fh)->st, kLive);
    } else {
      fuse_reply_err(req, ENOENT);
    }
  });
}

void ReadLink(fuse_req_t req, fuse_ino_t ino) {
  Checked(req, "readlink", [&] {
    FsContext& ctx = Ctx(req);
    const auto snap = ctx.tree.Current();
    if (ino >= kGuestBase) {
      const auto entry = IndexGet(ctx, GuestEntryOf(*snap, ino));
      if (!entry || (entry->mode & S_IFMT) != S_IFLNK) {
        fuse_reply_err(req, entry ? EINVAL : ENOENT);
      } else {
        fuse_reply_readlink(req, entry->target.c_str());
      }
      return;
    }
    const Node* n = snap->Find(ino);
    if (n == nullptr || n->kind != Node::Kind::kSymlink) {
      fuse_reply_err(req, n == nullptr ? ENOENT : EINVAL);
      return;
    }
    fuse_reply_readlink(req, n->content.c_str());
  });
}

// One reply of readdir or readdirplus (which carries the attributes, so
// that `ls -l` or `find -printf` need no lookup per entry).
class DirReply {
 public:
  DirReply(fuse_req_t req, size_t size, bool plus)
      : req_(req), plus_(plus), buf_(size) {}
  // False when the entry no longer fits.
  bool Add(const std::string& name,
           const struct stat& st,
           double timeout,
           off_t next) {
    return Add(name, st, timeout, timeout, next);
  }
  // `entry_timeout` for the name, `attr_timeout` for the attributes.
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

// A guest folder from the index, a page at a time. Offsets: 1 after ".",
// 2 after "..", then 2 + the id of the entry just listed.
void ReadGuestDirectory(fuse_req_t req,
                        fuse_ino_t ino,
                        int64_t dir,
                        size_t size,
                        off_t off,
                        bool plus) {
  FsContext& ctx = Ctx(req);
  DirReply reply(req, size, plus);
  struct stat dot {};
  dot.st_ino = ino;
  dot.st_mode = S_IFDIR | 0555;
  if ((off < 1 && !reply.Add(".", dot, kForever, 1)) ||
      (off < 2 && !reply.Add("..", dot, kForever, 2))) {
    reply.Send();
    return;
  }
  int64_t after = off > 2 ? off - 2 : 0;
  while (true) {
    std::vector<GuestEntry> page;
    {
      std::lock_guard lock(ctx.index_mutex);
      page = ctx.index->Children(dir, after, 256);
    }
    if (page.empty()) {
      break;
    }
    for (const auto& e : page) {
      if (!reply.Add(e.name, GuestStat(e, GuestIno(e)), kForever,
                     static_cast<off_t>(e.id + 2))) {
        reply.Send();
        return;
      }
      after = e.id;
    }
  }
  reply.Send();
}

void ReadTreeDirectory(fuse_req_t req,
                       fuse_ino_t ino,
                       size_t size,
                       off_t off,
                       fuse_file_info* fi,
                       bool plus) {
  Checked(req, "readdir", [&] {
    const auto& snap = reinterpret_cast<OpenDir*>(fi->fh)->snapshot;
    if (const int64_t id = GuestEntryOf(*snap, ino)) {
      ReadGuestDirectory(req, ino, id, size, off, plus);
      return;
    }
    const Node* dir = snap->Find(ino);
    if (dir == nullptr) {
      fuse_reply_err(req, ENOENT);
      return;
    }
    DirReply reply(req, size, plus);
    off_t index = 0;
    auto add = [&](const std::string& name, const Node& n) {
      if (++index <= off) {
        return true;
      }
      struct stat st = n.Stat();
      if (n.kind == Node::Kind::kGuestRoot) {
        if (const auto root = IndexGet(Ctx(req), n.guest_entry)) {
          st = GuestStat(*root, n.ino);
        }
      }
      return reply.Add(name, st, Timeout(*dir), Timeout(n), index);
    };
    if (add(".", *dir) && add("..", *dir)) {
      for (const auto& [name, child_ino] : dir->children) {
        const Node* child = snap->Find(child_ino);
        if (child != nullptr && !add(name, *child)) {
          break;
        }
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
  ReadTreeDirectory(req, ino, size, off, fi, false);
}

void ReadDirectoryPlus(fuse_req_t req,
                       fuse_ino_t ino,
                       size_t size,
                       off_t off,
                       fuse_file_info* fi) {
  ReadTreeDirectory(req, ino, size, off, fi, true);
}

void OpenDirectory(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Checked(req, "opendir", [&] {
    FsContext& ctx = Ctx(req);
    auto snap = ctx.tree.Current();
    if (const int64_t id = GuestEntryOf(*snap, ino)) {
      const auto entry = IndexGet(ctx, id);
      if (!entry || (entry->mode & S_IFMT) != S_IFDIR) {
        fuse_reply_err(req, entry ? ENOTDIR : ENOENT);
        return;
      }
      fi->fh = reinterpret_cast<uint64_t>(new OpenDir{std::move(snap)});
      fi->cache_readdir = 1;
      fi->keep_cache = 1;
      if (fuse_reply_open(req, fi) != 0) {
        delete reinterpret_cast<OpenDir*>(fi->fh);
      }
      return;
    }
    const Node* n = snap->Find(ino);
    if (n == nullptr || n->kind != Node::Kind::kDirectory) {
      fuse_reply_err(req, n == nullptr ? ENOENT : ENOTDIR);
      return;
    }
    // A listing comes from one snapshot even if the tree changes meanwhile.
    fi->fh = reinterpret_cast<uint64_t>(new OpenDir{std::move(snap)});
    fi->cache_readdir = n->immutable;
    fi->keep_cache = n->immutable;
    if (fuse_reply_open(req, fi) != 0) {
      delete reinterpret_cast<OpenDir*>(fi->fh);
    }
  });
}

void ReleaseDirectory(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  delete reinterpret_cast<OpenDir*>(fi->fh);
  fuse_reply_err(req, 0);
}

// The files/<fs> folder above a guest entry: the one whose filesystem
// holds the entry.
const Node* GuestRootOf(const TreeSnapshot& snap, const GuestEntry& e) {
  for (const auto& [backup_id, fss] : snap.AllFilesystems()) {
    for (const auto& fs : fss) {
      if (fs.id == e.fs_id) {
        return snap.GuestRoot(backup_id, fs.name);
      }
    }
  }
  return nullptr;
}

void OpenGuestFile(fuse_req_t req,
                   FsContext& ctx,
                   const TreeSnapshot& snap,
                   fuse_ino_t ino,
                   fuse_file_info* fi) {
  const auto entry = IndexGet(ctx, GuestEntryOf(snap, ino));
  const Node* root = entry ? GuestRootOf(snap, *entry) : nullptr;
  if (!entry || root == nullptr) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  if ((entry->mode & S_IFMT) == S_IFDIR) {
    fuse_reply_err(req, EISDIR);
    return;
  }
  if ((entry->mode & S_IFMT) != S_IFREG) {
    fuse_reply_err(req, EACCES);  // devices, sockets, fifos: shown only
    return;
  }
  auto file = std::make_unique<OpenFile>();
  file->guest = true;
  file->st = GuestStat(*entry, ino);
  file->backup_id = root->backup_id;
  file->guest_path = "/" + root->guest_fs + entry->path;
  fi->fh = reinterpret_cast<uint64_t>(ctx.open_files.Keep(std::move(file)));
  fi->keep_cache = 1;
  if (fuse_reply_open(req, fi) != 0) {
    ctx.open_files.Drop(fi->fh);
  }
}

void Open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Checked(req, "open", [&] {
    if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) {
      fuse_reply_err(req, EROFS);
      return;
    }
    FsContext& ctx = Ctx(req);
    const auto snap = ctx.tree.Current();
    if (ino >= kGuestBase) {
      OpenGuestFile(req, ctx, *snap, ino, fi);
      return;
    }
    const Node* n = snap->Find(ino);
    if (n == nullptr) {
      fuse_reply_err(req, ENOENT);
      return;
    }
    if (n->kind == Node::Kind::kDirectory ||
        n->kind == Node::Kind::kGuestRoot) {
      fuse_reply_err(req, EISDIR);
      return;
    }
    auto file = std::make_unique<OpenFile>();
    file->kind = n->kind;
    file->st = n->Stat();
    if (n->kind == Node::Kind::kRawDisk) {
      try {
        file->chain = ctx.chains.Open(ctx.repo.Absolute(n->point_file));
      } catch (const Error& e) {
        Log(LogLevel::kError,
            std::string("cannot open ") + n->point_file + ": " + e.what());
        fuse_reply_err(req, EIO);
        return;
      }
    } else {
      file->content = n->content;
    }
    fi->fh = reinterpret_cast<uint64_t>(ctx.open_files.Keep(std::move(file)));
    fi->keep_cache = n->immutable;
    if (fuse_reply_open(req, fi) != 0) {
      ctx.open_files.Drop(fi->fh);  // the opener is gone: no release comes
    }
  });
}

// Guest content comes from the backup's appliance (started on first use,
// which may take a while): a worker waits for it, never the loop.
void ReadGuestFile(fuse_req_t req,
                   const OpenFile* file,
                   uint64_t start,
                   size_t n) {
  FsContext& ctx = Ctx(req);
  const int64_t backup_id = file->backup_id;
  const std::string path = file->guest_path;
  ctx.reads->Submit([req, &ctx, backup_id, path, start, n] {
    Checked(req, "read", [&] {
      const auto snap = ctx.tree.Current();
      const BackupRecord* backup = snap->Backup(backup_id);
      if (backup == nullptr) {
        fuse_reply_err(req, ENOENT);  // the backup left the catalog
        return;
      }
      std::vector<guest::FoundFilesystem> fss;
      for (const auto& fs : snap->Filesystems(backup_id)) {
        fss.push_back({fs.device, fs.fstype, fs.name});
      }
      const BackupRecord copy = *backup;
      auto app = ctx.appliances->Acquire(
          backup_id, [&] { return guest::DrivesOf(ctx.repo, copy); }, fss);
      const std::string data = app->Pread(path, n, start);
      fuse_reply_buf(req, data.data(), data.size());
    });
  });
}

void Read(fuse_req_t req,
          fuse_ino_t,
          size_t size,
          off_t off,
          fuse_file_info* fi) {
  Checked(req, "read", [&] {
    auto* file = reinterpret_cast<OpenFile*>(fi->fh);
    const uint64_t total = static_cast<uint64_t>(file->st.st_size);
    const uint64_t start =
        std::min<uint64_t>(static_cast<uint64_t>(off), total);
    const size_t n =
        static_cast<size_t>(std::min<uint64_t>(size, total - start));
    if (file->guest) {
      ReadGuestFile(req, file, start, n);
      return;
    }
    if (file->kind != Node::Kind::kRawDisk) {
      fuse_reply_buf(req, file->content.data() + start, n);
      return;
    }
    // Disk reads may be slow: a worker reads and replies, the loop goes on.
    auto chain = file->chain;
    Ctx(req).reads->Submit([req, chain, start, n] {
      Checked(req, "read", [&] {
        const std::span<std::byte> buf = ReadBuffer(n);
        chain->Read(buf, start);
        fuse_reply_buf(req, reinterpret_cast<const char*>(buf.data()), n);
      });
    });
  });
}

void Release(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  Ctx(req).open_files.Drop(fi->fh);
  fuse_reply_err(req, 0);
}

// SEEK_DATA / SEEK_HOLE from the chain's extents, a window at a time.
void Lseek(fuse_req_t req,
           fuse_ino_t,
           off_t off,
           int whence,
           fuse_file_info* fi) {
  Checked(req, "lseek", [&] {
    auto* file = reinterpret_cast<OpenFile*>(fi->fh);
    const uint64_t size = static_cast<uint64_t>(file->st.st_size);
    if (off < 0 || static_cast<uint64_t>(off) >= size) {
      fuse_reply_err(req, ENXIO);
      return;
    }
    if (whence != SEEK_DATA && whence != SEEK_HOLE) {
      fuse_reply_err(req, EINVAL);
      return;
    }
    if (file->guest || file->kind != Node::Kind::kRawDisk) {
      fuse_reply_lseek(req, whence == SEEK_DATA ? off : size);
      return;
    }
    constexpr uint64_t kWindow = uint64_t{1} << 32;
    for (uint64_t pos = static_cast<uint64_t>(off); pos < size;) {
      const uint64_t len = std::min(kWindow, size - pos);
      for (const auto& e : file->chain->Extents(pos, len)) {
        const bool data = e.kind == qcow2::ExtentKind::kData;
        if (data == (whence == SEEK_DATA)) {
          fuse_reply_lseek(req, static_cast<off_t>(e.offset));
          return;
        }
      }
      pos += len;
    }
    if (whence == SEEK_HOLE) {
      fuse_reply_lseek(req, static_cast<off_t>(size));
    } else {
      fuse_reply_err(req, ENXIO);
    }
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
  return ops;
}

}  // namespace

const fuse_lowlevel_ops& GetFuseOperations() {
  static const fuse_lowlevel_ops ops = MakeOps();
  return ops;
}

}  // namespace sendense::fs
