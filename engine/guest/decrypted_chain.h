#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "engine/io/leftovers.h"

namespace sendense::guest {

// An encrypted (LUKS) chain served decrypted to the appliance's qemu,
// which libguestfs cannot hand a secret for each layer: qemu-nbd opens the
// chain read-only with the repository's key file as its secret, on a unix
// socket in a private folder of /var/tmp (0700), for one client. The
// appliance's overlay names the socket as its raw backing file; once qemu
// has connected, Forget() removes the socket's name and folder. The server
// exits when qemu closes its connection (libguestfs kills qemu when the
// daemon dies), and is stopped here at the latest. The caller has checked
// that the key unlocks every encrypted layer.
class DecryptedChain {
 public:
  // `chain_top`: the point's checked QCOW2 file; `encrypted_layers`: its
  // encrypted layers (0 is the point itself). Throws Error kIo.
  DecryptedChain(const std::string& chain_top,
                 const std::vector<size_t>& encrypted_layers,
                 const std::string& key_file);
  ~DecryptedChain();
  DecryptedChain(const DecryptedChain&) = delete;
  DecryptedChain& operator=(const DecryptedChain&) = delete;

  // "nbd+unix:///?socket=PATH": a backing file name qemu opens as raw.
  std::string uri() const { return "nbd+unix:///?socket=" + socket_; }
  void Forget();

 private:
  std::string dir_, socket_;
  pid_t pid_ = -1;
  std::optional<LeftoverNote> note_;  // while its folder exists
};

}  // namespace sendense::guest
