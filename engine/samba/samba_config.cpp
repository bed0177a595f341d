#include "engine/samba/samba_config.h"

#include <sstream>

#include "engine/error.h"

namespace sendense::samba {
namespace {

// Characters that Windows cannot show in a name, on the guest's side, and
// the look-alike a Windows client sees instead (vfs_catia; the mapping of
// its manual page): " * : < > ? \ |
constexpr const char* kCatiaMappings =
    "0x22:0xa8,0x2a:0xa4,0x3a:0xf7,0x3c:0xab,0x3e:0xbb,0x3f:0xbf,"
    "0x5c:0xff,0x7c:0xa6";

// One smb.conf value: no line breaks (they would start a new parameter).
std::string Value(const std::string& v, const char* what) {
  if (v.find_first_of("\r\n") != std::string::npos) {
    throw Error(ErrorKind::kInvalidArgument,
                std::string(what) + " holds a line break: '" + v + "'");
  }
  return v;
}

}  // namespace

std::string ShareName(const ShareSource& source) {
  std::string name = (source.tenant.empty() ? "" : source.tenant + "-") +
                     source.vm + "-" + source.filesystem;
  for (char& c : name) {
    if (std::string_view("\\/[]:|<>+=;,*?\"").find(c) !=
            std::string_view::npos ||
        static_cast<unsigned char>(c) < 0x20) {
      c = '_';
    }
  }
  return name;
}

std::string SambaConfig(const std::vector<ShareSource>& sources,
                        const SambaConfigOptions& options) {
  if (options.mount.empty() || options.mount[0] != '/') {
    throw Error(ErrorKind::kInvalidArgument,
                "--mount must be the tree's absolute path");
  }
  std::ostringstream out;
  out << "# Sendense shares of " << Value(options.repository, "the repository")
      << " (tree at " << Value(options.mount, "--mount") << ").\n"
      << "# Written by `sendense samba-config`; include it from smb.conf:\n"
      << "#   include = /etc/samba/sendense.conf\n"
      << "# Each share is a guest filesystem in the newest point; every\n"
      << "# point is a previous version (Windows: Properties > Previous\n"
      << "# Versions). See docs/samba.md.\n";
  for (const auto& s : sources) {
    const std::string vm_dir = options.mount + "/" + Value(s.vm, "a VM name");
    const std::string fs = Value(s.filesystem, "a filesystem name");
    out << "\n[" << ShareName(s) << "]\n"
        << "  comment = " << s.vm << " " << fs
        << ": newest backup; earlier ones under Previous Versions\n"
        << "  path = " << vm_dir << "/latest/files/" << fs << "\n"
        << "  read only = yes\n"
        << "  guest ok = no\n"
        << "  browseable = yes\n";
    if (!options.valid_users.empty()) {
      out << "  valid users = " << Value(options.valid_users, "--valid-users")
          << "\n";
    }
    out << "  # The tree is root's (mounted without allow_other): smbd reads\n"
        << "  # it as root for the users let in; the guest's owners and modes\n"
        << "  # are not the share's access control, valid users is.\n"
        << "  force user = root\n"
        << "  # Guest symlinks never lead out of the share.\n"
        << "  wide links = no\n"
        << "  # The tree has no extended attributes or DOS attributes.\n"
        << "  ea support = no\n"
        << "  store dos attributes = no\n"
        << "  vfs objects = catia shadow_copy2\n"
        << "  catia:mappings = " << kCatiaMappings
        << "\n"
        // Spelled with "/." so that it does not prefix the share's real
        // path (latest resolves to a point, itself a snapshot): otherwise
        // shadow_copy2 takes the share for a snapshot and serves today's
        // files for every previous version.
        << "  shadow:snapdir = " << vm_dir << "/.\n"
        << "  shadow:snapsharepath = files/" << fs << "\n"
        << "  shadow:format = %Y-%m-%dT%H.%M.%SZ\n"
        << "  shadow:localtime = no\n"
        << "  shadow:sort = desc\n";
  }
  return out.str();
}

}  // namespace sendense::samba
