#pragma once

#include <optional>
#include <string>
#include <vector>

namespace sendense {

// Checks a VM or disk name given by a user: 1-64 characters of letters,
// digits, '.', '_' and '-', not starting with '.' or '-'. They become
// directory names, so nothing else is allowed. Throws Error
// kInvalidArgument naming `what` ("VM name", "disk name").
void ValidateName(const std::string& what, const std::string& name);

// A VM or user of a tenant is NAME@TENANT across the appliance, so two
// tenants may each have a "web1"; one of no tenant is NAME alone. The
// '@' cannot be part of a name (ValidateName), so the split is certain.
std::string Qualified(const std::string& name, const std::string& tenant);
// "acme" for "web1@acme", "" for "web1".
std::string TenantOf(const std::string& qualified);
// "web1" for "web1@acme" and for "web1".
std::string LocalName(const std::string& qualified);
// Checks a possibly qualified VM or user name: each part as ValidateName
// (the tenant part as "tenant name").
void ValidateQualifiedName(const std::string& what,
                           const std::string& qualified);

// The candidate nearest to `word` (edit distance at most a third of its
// length, or a prefix of it), if any.
std::optional<std::string> NearestName(const std::string& word,
                                       const std::vector<std::string>& names);

// Error kNotFound "no VM named 'vm1x'; did you mean 'vm1'?", the nearest
// of `known` of the same tenant suggested when one is near.
[[noreturn]] void ThrowNoSuchVm(const std::string& name,
                                const std::vector<std::string>& known);

}  // namespace sendense
