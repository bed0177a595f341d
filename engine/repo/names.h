#pragma once

#include <string>

namespace sendense {

// Checks a VM or disk name given by a user: 1-64 characters of letters,
// digits, '.', '_' and '-', not starting with '.' or '-'. They become
// directory names, so nothing else is allowed. Throws Error
// kInvalidArgument naming `what` ("VM name", "disk name").
void ValidateName(const std::string& what, const std::string& name);

}  // namespace sendense
