#include "engine/catalog/names.h"

#include <algorithm>

#include "engine/error.h"

namespace sendense {
namespace {

// Optimal string alignment distance: a swap of neighbours costs one, as
// in "lsit" for "list".
size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<std::vector<size_t>> d(a.size() + 1,
                                     std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) {
    d[i][0] = i;
  }
  for (size_t j = 0; j <= b.size(); ++j) {
    d[0][j] = j;
  }
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] =
          std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

}  // namespace

void ValidateName(const std::string& what, const std::string& name) {
  bool ok =
      !name.empty() && name.size() <= 64 && name[0] != '.' && name[0] != '-';
  for (char c : name) {
    const bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                         c == '-';
    ok = ok && allowed;
  }
  if (!ok) {
    throw Error(ErrorKind::kInvalidArgument,
                "invalid " + what + " '" + name +
                    "': use 1-64 letters, digits, '.', '_' or '-', not "
                    "starting with '.' or '-'");
  }
}

std::string Qualified(const std::string& name, const std::string& tenant) {
  return tenant.empty() ? name : name + "@" + tenant;
}

std::string TenantOf(const std::string& qualified) {
  const auto at = qualified.find('@');
  return at == std::string::npos ? "" : qualified.substr(at + 1);
}

std::string LocalName(const std::string& qualified) {
  return qualified.substr(0, qualified.find('@'));
}

void ValidateQualifiedName(const std::string& what,
                           const std::string& qualified) {
  ValidateName(what, LocalName(qualified));
  if (qualified.find('@') != std::string::npos) {
    ValidateName("tenant name", TenantOf(qualified));
  }
}

std::optional<std::string> NearestName(const std::string& word,
                                       const std::vector<std::string>& names) {
  std::optional<std::string> best;
  size_t best_distance = std::max<size_t>(2, word.size() / 3) + 1;
  for (const auto& name : names) {
    const size_t d = name.rfind(word, 0) == 0 && word.size() >= 2
                         ? 0
                         : EditDistance(word, name);
    if (d < best_distance) {
      best_distance = d;
      best = name;
    }
  }
  return best;
}

void ThrowNoSuchVm(const std::string& name,
                   const std::vector<std::string>& known) {
  // Suggestions come from the same tenant only: no other tenant's VM is
  // ever named to a caller.
  std::vector<std::string> same_tenant;
  for (const auto& k : known) {
    if (TenantOf(k) == TenantOf(name)) {
      same_tenant.push_back(k);
    }
  }
  const auto near = NearestName(name, same_tenant);
  throw Error(ErrorKind::kNotFound,
              "no VM named '" + name + "'" +
                  (near ? "; did you mean '" + *near + "'?" : ""));
}

}  // namespace sendense
