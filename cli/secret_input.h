#pragma once

// Secrets typed by a person: passwords, passphrases, keys.

#include <string>

namespace sendense::cli {

// A line of the terminal without echo (the prompt on stderr), or the first
// line of stdin when it is not a terminal.
std::string ReadSecretLine(const std::string& prompt);

// A new secret: asked twice on a terminal (Error kInvalidArgument naming
// `what` when they differ), or one line of stdin.
std::string NewSecret(const std::string& prompt, const std::string& what);

// Lets the engine ask for a repository's key on the terminal when a
// command needs one it cannot read (repository_key.h); nothing is asked
// when stdin is not a terminal.
void AskForKeysOnTheTerminal();

}  // namespace sendense::cli
