#include "fs/fuse_ops.h"

#include <fcntl.h>
#include <sys/statvfs.h>

#include <cstdio>
#include <cstring>
#include <vector>

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
  Node::Kind kind;
  struct stat st;
  std::string content;                              // kJson
  std::shared_ptr<const qcow2::ChainReader> chain;  // kRawDisk
};

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

double Timeout(const Node& n) {
  return n.immutable ? kForever : kLive;
}

void Init(void*, fuse_conn_info* conn) {
  conn->max_read = 1 << 20;  // as in the max_read mount option
  conn->max_readahead = 1 << 20;
  conn->max_write = 1 << 20;  // libfuse derives max_pages from it
  conn->want |= FUSE_CAP_ASYNC_READ;
}

void Lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  Checked(req, "lookup", [&] {
    const auto snap = Ctx(req).tree.Current();
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
    e.attr_timeout = Timeout(*n);
    e.entry_timeout = Timeout(*n);
    fuse_reply_entry(req, &e);
  });
}

void GetAttr(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Checked(req, "getattr", [&] {
    const auto snap = Ctx(req).tree.Current();
    if (const Node* n = snap->Find(ino)) {
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
    const auto snap = Ctx(req).tree.Current();
    const Node* n = snap->Find(ino);
    if (n == nullptr || n->kind != Node::Kind::kSymlink) {
      fuse_reply_err(req, n == nullptr ? ENOENT : EINVAL);
      return;
    }
    fuse_reply_readlink(req, n->content.c_str());
  });
}

void OpenDirectory(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Checked(req, "opendir", [&] {
    auto snap = Ctx(req).tree.Current();
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

void ReadDirectory(fuse_req_t req,
                   fuse_ino_t ino,
                   size_t size,
                   off_t off,
                   fuse_file_info* fi) {
  Checked(req, "readdir", [&] {
    const auto& snap = reinterpret_cast<OpenDir*>(fi->fh)->snapshot;
    const Node* dir = snap->Find(ino);
    if (dir == nullptr) {
      fuse_reply_err(req, ENOENT);
      return;
    }
    std::vector<char> buf(size);
    size_t used = 0;
    off_t index = 0;
    auto add = [&](const std::string& name, const struct stat& st) {
      ++index;
      if (index <= off) {
        return true;
      }
      const size_t need = fuse_add_direntry(req, buf.data() + used, size - used,
                                            name.c_str(), &st, index);
      if (need > size - used) {
        return false;
      }
      used += need;
      return true;
    };
    struct stat dot = dir->Stat();
    if (add(".", dot) && add("..", dot)) {
      for (const auto& [name, child_ino] : dir->children) {
        const Node* child = snap->Find(child_ino);
        if (child != nullptr && !add(name, child->Stat())) {
          break;
        }
      }
    }
    fuse_reply_buf(req, buf.data(), used);
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
    const auto snap = ctx.tree.Current();
    const Node* n = snap->Find(ino);
    if (n == nullptr) {
      fuse_reply_err(req, ENOENT);
      return;
    }
    if (n->kind == Node::Kind::kDirectory) {
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
    fi->fh = reinterpret_cast<uint64_t>(file.get());
    fi->keep_cache = n->immutable;
    if (fuse_reply_open(req, fi) == 0) {
      file.release();
    }
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
    if (file->kind != Node::Kind::kRawDisk) {
      fuse_reply_buf(req, file->content.data() + start, n);
      return;
    }
    // Disk reads may be slow: a worker reads and replies, the loop goes on.
    auto chain = file->chain;
    Ctx(req).reads->Submit([req, chain, start, n] {
      Checked(req, "read", [&] {
        std::vector<std::byte> buf(n);
        chain->Read(buf, start);
        fuse_reply_buf(req, reinterpret_cast<const char*>(buf.data()), n);
      });
    });
  });
}

void Release(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  delete reinterpret_cast<OpenFile*>(fi->fh);
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
    if (file->kind != Node::Kind::kRawDisk) {
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
