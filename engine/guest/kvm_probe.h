#pragma once

#include <string>

namespace sendense::guest {

struct KvmProbe {
  bool works = false;
  std::string why;
};

// Whether hardware virtualisation really runs a guest here: a one-page
// real-mode guest must halt within `timeout_seconds` (in a child process,
// killed otherwise). Nested KVM is known to hang on some hosts even where
// /dev/kvm opens, which would hang every libguestfs appliance.
KvmProbe ProbeKvm(double timeout_seconds = 3.0);

// Whether libguestfs appliances must run with TCG (force_tcg) here,
// decided once per boot and remembered in /var/tmp: when
// LIBGUESTFS_BACKEND_SETTINGS is set it is obeyed; otherwise KVM must run
// a tiny guest and then boot a real appliance (`guestfish -a /dev/null
// run`) within `appliance_seconds`. The decision is logged once.
bool NeedForceTcg(double appliance_seconds = 40.0);

}  // namespace sendense::guest
