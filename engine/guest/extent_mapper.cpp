#include "engine/guest/extent_mapper.h"

#include <guestfs.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <sstream>
#include <unordered_map>

#include "engine/error.h"
#include "engine/log.h"

namespace sendense::guest {
namespace {

// Where the helper and its files live in the appliance's own root (not a
// guest filesystem: those are mounted read-only below it).
constexpr const char* kDir = "/.sendense";

// "sdb" -> 1: the appliance names the drives in the order they were added.
std::optional<uint32_t> DriveIndex(const std::string& name) {
  if (name.size() == 3 && name.compare(0, 2, "sd") == 0 && name[2] >= 'a' &&
      name[2] <= 'z') {
    return static_cast<uint32_t>(name[2] - 'a');
  }
  return std::nullopt;
}

// A host temporary file, removed with the object.
struct TempFile {
  std::string path;
  TempFile() {
    char tmp[] = "/var/tmp/sendense-extents-XXXXXX";
    const int fd = ::mkstemp(tmp);
    if (fd >= 0) {
      ::close(fd);
      path = tmp;
    }
  }
  ~TempFile() {
    if (!path.empty()) {
      ::unlink(path.c_str());
    }
  }
};

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Runs the helper on `requests` in the appliance; its output, or "" with
// the reason logged.
std::string RunHelper(Appliance& app,
                      const std::string& helper,
                      const std::string& requests) {
  TempFile in, out;
  if (in.path.empty() || out.path.empty()) {
    Log(LogLevel::kWarning, "extent maps: no temporary file in /var/tmp");
    return "";
  }
  std::ofstream(in.path, std::ios::binary) << requests;
  std::lock_guard lock(app.mutex());
  guestfs_h* g = app.handle();
  // The chroot of guestfs_command gets /dev, /proc and /sys bound into it
  // where these folders exist. (They may exist already: errors ignored.)
  for (const char* dir : {"/dev", "/proc", "/sys", kDir}) {
    guestfs_mkmountpoint(g, dir);
  }
  const std::string bin = std::string(kDir) + "/sendense-extents";
  const std::string req = std::string(kDir) + "/requests";
  const std::string answers = std::string(kDir) + "/answers";
  char* argv[] = {const_cast<char*>(bin.c_str()),
                  const_cast<char*>(req.c_str()),
                  const_cast<char*>(answers.c_str()), nullptr};
  char* printed = nullptr;
  if (guestfs_upload(g, helper.c_str(), bin.c_str()) != 0 ||
      guestfs_chmod(g, 0755, bin.c_str()) != 0 ||
      guestfs_upload(g, in.path.c_str(), req.c_str()) != 0 ||
      (printed = guestfs_command(g, argv)) == nullptr ||
      guestfs_download(g, answers.c_str(), out.path.c_str()) != 0) {
    Log(LogLevel::kWarning,
        "extent maps: the helper did not run in the appliance (" +
            app.LastError() + "); guest files are read through it");
    std::free(printed);
    return "";
  }
  std::free(printed);
  return Slurp(out.path);
}

}  // namespace

bool Mappable(const std::string& fstype) {
  return fstype == "ext2" || fstype == "ext3" || fstype == "ext4" ||
         fstype == "xfs" || fstype == "vfat" || fstype == "msdos" ||
         fstype == "ntfs";
}

std::string ExtentHelperPath() {
  if (const char* env = std::getenv("SENDENSE_EXTENTS_HELPER")) {
    return env;
  }
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) {
    return "";
  }
  for (const auto& candidate :
       {self.parent_path() / "sendense-extents",
        self.parent_path().parent_path() / "lib/sendense/sendense-extents"}) {
    if (::access(candidate.c_str(), R_OK) == 0) {
      return candidate;
    }
  }
  return "";
}

std::vector<HelperAnswer> ParseHelperOutput(const std::string& text,
                                            const std::string& kinds) {
  std::vector<HelperAnswer> out(kinds.size());
  std::vector<bool> answered(kinds.size());
  std::istringstream in(text);
  std::string line;
  HelperAnswer* current = nullptr;
  size_t expected = 0;  // S or E lines still to come for `current`
  const auto fail = [&](const std::string& why) {
    if (current != nullptr) {
      current->error = why;
      current->segments.clear();
      current->extents.clear();
    }
    current = nullptr;
    expected = 0;
  };
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string tag;
    words >> tag;
    if (expected > 0 && (tag == "S" || tag == "E")) {
      --expected;
      if (tag == "S") {
        DeviceSegment s;
        std::string disk;
        if (!(words >> s.offset >> s.length >> disk >> s.disk_offset) ||
            !DriveIndex(disk)) {
          fail("an unreadable device segment");
          continue;
        }
        s.disk = *DriveIndex(disk);
        current->segments.push_back(s);
      } else {
        RawExtent e;
        if (!(words >> e.logical >> e.physical >> e.length >> e.flags)) {
          fail("an unreadable extent");
          continue;
        }
        current->extents.push_back(e);
      }
      continue;
    }
    if (expected > 0) {
      fail("an answer cut short");
    }
    size_t index = 0;
    if ((tag != "D" && tag != "F") || !(words >> index) ||
        index >= kinds.size() || kinds[index] != tag[0] || answered[index]) {
      current = nullptr;
      continue;  // not an answer to anything asked
    }
    answered[index] = true;
    current = &out[index];
    std::string next;
    words >> next;
    if (next == "!") {
      std::getline(words >> std::ws, current->error);
      current->error = current->error.substr(0, 200);
      if (current->error.empty()) {
        current->error = "the helper could not tell";
      }
      current = nullptr;
      continue;
    }
    std::istringstream rest(next);
    if (tag == "D") {
      if (!(rest >> expected)) {
        fail("an unreadable answer");
      }
    } else {
      std::string how;
      if (!(rest >> current->size) || !(words >> expected >> how) ||
          (how != "fiemap" && how != "fibmap")) {
        fail("an unreadable answer");
        continue;
      }
      current->block_map = how == "fibmap";
    }
    if (expected > kMaxFileExtents) {
      fail("too many extents");
    }
  }
  if (expected > 0) {
    fail("an answer cut short");
  }
  for (size_t i = 0; i < out.size(); ++i) {
    if (!answered[i]) {
      out[i].error = "no answer";
    }
  }
  return out;
}

void MapFiles(Appliance& app,
              const std::vector<uint64_t>& disk_sizes,
              std::vector<IndexedFilesystem>& filesystems) {
  const std::string helper = ExtentHelperPath();
  if (helper.empty()) {
    Log(LogLevel::kWarning,
        "extent maps: sendense-extents is not installed beside sendense; "
        "guest files are read through the appliance");
    return;
  }
  // Requests: each filesystem's device, then its regular files (one name
  // per inode: hard links share the map).
  std::string requests, kinds;
  struct Asked {
    IndexedFilesystem* fs;
    size_t device;                           // its D request
    std::vector<std::vector<size_t>> files;  // per F request: its entries
  };
  std::vector<Asked> asked;
  for (auto& fs : filesystems) {
    if (fs.fs.state != "indexed" || !Mappable(fs.fs.fstype)) {
      continue;
    }
    Asked a{&fs, kinds.size(), {}};
    requests += std::string("D") + '\0' + fs.fs.device + '\0';
    kinds += 'D';
    std::unordered_map<uint64_t, size_t> by_inode;
    for (size_t i = 0; i < fs.entries.size(); ++i) {
      const GuestEntry& e = fs.entries[i];
      if ((e.mode & S_IFMT) != S_IFREG) {
        continue;
      }
      if (e.nlink > 1) {
        if (auto it = by_inode.find(e.ino); it != by_inode.end()) {
          a.files[it->second].push_back(i);
          continue;
        }
        by_inode[e.ino] = a.files.size();
      }
      a.files.push_back({i});
      requests += std::string("F") + '\0' + "/" + fs.fs.name + e.path + '\0';
      kinds += 'F';
    }
    asked.push_back(std::move(a));
  }
  if (asked.empty()) {
    return;
  }
  // Where the appliance's view differs from the backup (a replayed
  // journal): files with data there are read through it.
  std::vector<std::vector<DiskRange>> rewritten;
  try {
    rewritten = app.Rewritten();
  } catch (const Error& e) {
    Log(LogLevel::kWarning, std::string("extent maps: ") + e.what() +
                                "; guest files are read through the appliance");
    return;
  }
  const std::vector<HelperAnswer> answers =
      ParseHelperOutput(RunHelper(app, helper, requests), kinds);
  std::map<std::string, size_t> reasons;
  for (auto& a : asked) {
    const HelperAnswer& dev = answers[a.device];
    std::string device_error = dev.error;
    if (device_error.empty()) {
      device_error = CheckDevice(dev.segments, disk_sizes);
    }
    if (!device_error.empty()) {
      Log(LogLevel::kWarning, "extent maps: " + a.fs->fs.device +
                                  " cannot be placed on the disks (" +
                                  device_error +
                                  "); its files are read through the "
                                  "appliance");
    }
    for (size_t k = 0; k < a.files.size(); ++k) {
      const HelperAnswer& f = answers[a.device + 1 + k];
      GuestEntry& first = a.fs->entries[a.files[k].front()];
      std::string why = !device_error.empty() ? device_error : f.error;
      std::optional<std::vector<FileExtent>> map;
      if (why.empty() && f.size != first.size) {
        why = "the file changed size since it was listed";
      }
      if (why.empty() && f.block_map && f.extents.empty() && f.size > 0) {
        why = "no blocks of its own (resident, compressed or encrypted)";
      }
      if (why.empty()) {
        map = MapFile(f.extents, f.size, dev.segments, &why);
      }
      if (map && TouchesRewritten(*map, rewritten)) {
        map.reset();
        why = "data in the journal the appliance replayed";
      }
      if (!map) {
        ++reasons[why];
        continue;
      }
      const std::string blob = EncodeMap(*map);
      for (size_t i : a.files[k]) {
        a.fs->entries[i].mapped = true;
        a.fs->entries[i].extents = blob;
      }
    }
  }
  for (const auto& [why, count] : reasons) {
    Log(LogLevel::kInfo, "extent maps: " + std::to_string(count) +
                             " file(s) read through the appliance: " + why);
  }
}

}  // namespace sendense::guest
