#include "cli/secret_input.h"

#include <termios.h>
#include <unistd.h>

#include <iostream>

#include "engine/error.h"
#include "engine/repo/repository_key.h"

namespace sendense::cli {

std::string ReadSecretLine(const std::string& prompt) {
  const bool tty = ::isatty(STDIN_FILENO) == 1;
  termios old{};
  if (tty) {
    std::cerr << prompt << std::flush;
    ::tcgetattr(STDIN_FILENO, &old);
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  std::string line;
  std::getline(std::cin, line);
  if (tty) {
    ::tcsetattr(STDIN_FILENO, TCSANOW, &old);
    std::cerr << "\n";
  }
  return line;
}

std::string NewSecret(const std::string& prompt, const std::string& what) {
  const std::string secret = ReadSecretLine(prompt);
  if (::isatty(STDIN_FILENO) == 1 && ReadSecretLine("Again: ") != secret) {
    throw Error(ErrorKind::kInvalidArgument, "the " + what + "s differ");
  }
  return secret;
}

void AskForKeysOnTheTerminal() {
  if (::isatty(STDIN_FILENO) == 1) {
    SetSecretPrompt(ReadSecretLine);
  }
}

}  // namespace sendense::cli
