#pragma once

#include <sys/types.h>
#include <string>
#include <vector>

namespace sendense {

// How to start one qemu-nbd serving one image.
struct NbdServerSpec {
  std::string image;  // a QCOW2 file (the point, or an overlay on it)
  bool writable = false;
  std::string socket;       // a unix socket, or
  std::string listen_host;  // a TCP address and port
  int listen_port = 0;
  std::string tls_dir;  // TCP only: serve TLS, client certificates required
  std::string pid_file;
  std::string log_file;  // the server's stderr
  int inherit_fd = -1;   // kept open in the server (a point lease)
  // Encrypted (LUKS) layers of the image's chain (0 is the image itself),
  // opened with the secret qemu reads from `key_file`.
  std::vector<size_t> encrypted_layers;
  std::string key_file;
  // Serves one client, then exits (else persistent, up to 16 clients).
  bool one_client = false;
};

// Starts qemu-nbd (format given, nothing probed) in its own session and returns
// once it serves, with the server's pid. Error kIo with the server's own last
// words when it cannot start.
pid_t StartNbdServer(const NbdServerSpec& spec);

// Whether `pid` is a live qemu-nbd whose command line holds `marker`.
bool NbdServerAlive(pid_t pid, const std::string& marker);

// SIGTERM, then SIGKILL after 5 s; returns at once when it is gone.
void StopNbdServer(pid_t pid, const std::string& marker);

}  // namespace sendense
