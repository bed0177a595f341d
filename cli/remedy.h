#pragma once

// An engine error as the CLI says it: the engine's sentence, and what to do
// about it in the CLI's words (its commands and flags).

#include <string>

#include "engine/error.h"

namespace sendense::cli {

std::string Explain(const Error& e);

}  // namespace sendense::cli
