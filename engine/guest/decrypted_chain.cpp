#include "engine/guest/decrypted_chain.h"

#include <unistd.h>

#include <cstdlib>

#include "engine/error.h"
#include "engine/nbd/nbd_server.h"

namespace sendense::guest {

namespace {
constexpr const char* kLedger = "/var/tmp/sendense-leftovers";
}  // namespace

DecryptedChain::DecryptedChain(const std::string& chain_top,
                               const std::vector<size_t>& encrypted_layers,
                               const std::string& key_file) {
  ReclaimLeftovers(kLedger);
  char dir[] = "/var/tmp/sendense-overlay-nbd-XXXXXX";
  if (::mkdtemp(dir) == nullptr) {
    ThrowSystemError("cannot make a folder for the appliance's NBD socket");
  }
  dir_ = dir;
  note_.emplace(kLedger, dir_);
  socket_ = dir_ + "/chain.sock";
  NbdServerSpec spec;
  spec.image = chain_top;
  spec.socket = socket_;
  spec.pid_file = dir_ + "/qemu-nbd.pid";
  spec.log_file = dir_ + "/qemu-nbd.log";
  spec.encrypted_layers = encrypted_layers;
  spec.key_file = key_file;
  spec.one_client = true;
  try {
    pid_ = StartNbdServer(spec);
  } catch (...) {
    Forget();
    throw;
  }
}

DecryptedChain::~DecryptedChain() {
  if (pid_ > 0) {
    StopNbdServer(pid_, socket_);
  }
  Forget();
}

void DecryptedChain::Forget() {
  if (!dir_.empty()) {
    for (const char* name : {"/chain.sock", "/qemu-nbd.pid", "/qemu-nbd.log"}) {
      ::unlink((dir_ + name).c_str());
    }
    ::rmdir(dir_.c_str());
    dir_.clear();
    note_.reset();
  }
}

}  // namespace sendense::guest
