#pragma once

#include <string>
#include <vector>

namespace sendense::samba {

// One share: a guest filesystem of a VM.
struct ShareSource {
  std::string vm;
  std::string filesystem;  // its folder under files/ in the tree
  // The tenant whose tree (`mount --tenant`) holds `vm` under its own
  // name; it prefixes the share's name. "" for the appliance's tree.
  std::string tenant = "";
};

struct SambaConfigOptions {
  std::string mount;        // where the tree is mounted (absolute)
  std::string valid_users;  // "alice, @backup" or "" for any Samba user
  std::string repository;   // named in the header comment
};

// The share name of a guest filesystem: "<vm>-<fs>", with what Windows
// cannot take in a share name (and '[' ']' that end a section) as '_'.
std::string ShareName(const ShareSource& source);

// An smb.conf include with one read-only share per source: its root the
// filesystem in the newest point (`<vm>/latest/files/<fs>`), every point
// a previous version through vfs_shadow_copy2 (snapshots named as the
// tree names points, UTC), names Windows cannot show mapped by vfs_catia,
// symlinks kept inside the share, no guests, no extended attributes.
std::string SambaConfig(const std::vector<ShareSource>& sources,
                        const SambaConfigOptions& options);

}  // namespace sendense::samba
