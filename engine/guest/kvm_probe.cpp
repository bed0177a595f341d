#include "engine/guest/kvm_probe.h"

#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

#include "engine/log.h"

namespace sendense::guest {
namespace {

// In a child process: runs "mov al, 0x42; hlt" in a one-page real-mode
// guest. Exit status 0 when the vCPU halts with al = 0x42.
[[noreturn]] void RunTinyGuest() {
  const int kvm = ::open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (kvm < 0 || ::ioctl(kvm, KVM_GET_API_VERSION, 0) != 12) {
    ::_exit(2);
  }
  const int vm = ::ioctl(kvm, KVM_CREATE_VM, 0);
  void* mem = ::mmap(nullptr, 0x1000, PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (vm < 0 || mem == MAP_FAILED) {
    ::_exit(3);
  }
  const unsigned char code[] = {0xb0, 0x42, 0xf4};  // mov al, 0x42; hlt
  std::memcpy(mem, code, sizeof code);
  kvm_userspace_memory_region region{};
  region.guest_phys_addr = 0x1000;
  region.memory_size = 0x1000;
  region.userspace_addr = reinterpret_cast<uint64_t>(mem);
  const int vcpu = ::ioctl(vm, KVM_CREATE_VCPU, 0);
  const int run_size = ::ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
  if (::ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0 || vcpu < 0 ||
      run_size <= 0) {
    ::_exit(4);
  }
  auto* run = static_cast<kvm_run*>(
      ::mmap(nullptr, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0));
  kvm_sregs sregs{};
  kvm_regs regs{};
  if (run == MAP_FAILED || ::ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0) {
    ::_exit(5);
  }
  sregs.cs.base = 0;
  sregs.cs.selector = 0;
  regs.rip = 0x1000;
  regs.rflags = 0x2;
  if (::ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0 ||
      ::ioctl(vcpu, KVM_SET_REGS, &regs) < 0 || ::ioctl(vcpu, KVM_RUN, 0) < 0) {
    ::_exit(6);
  }
  if (run->exit_reason != KVM_EXIT_HLT ||
      ::ioctl(vcpu, KVM_GET_REGS, &regs) < 0 || (regs.rax & 0xff) != 0x42) {
    ::_exit(7);
  }
  ::_exit(0);
}

}  // namespace

KvmProbe ProbeKvm(double timeout_seconds) {
  if (::access("/dev/kvm", R_OK | W_OK) != 0) {
    return {false, "/dev/kvm is not usable"};
  }
  const pid_t pid = ::fork();
  if (pid < 0) {
    return {false, "cannot fork to probe KVM"};
  }
  if (pid == 0) {
    RunTinyGuest();
  }
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::duration<double>(timeout_seconds);
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return {false, "a tiny KVM guest did not halt within the timeout"};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    return {true, "a tiny KVM guest ran"};
  }
  return {false,
          "a tiny KVM guest failed (step " +
              std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) +
              ")"};
}

namespace {

// Runs `guestfish -a /dev/null run` in its own process group; true when
// it ends well within `seconds` (the group is killed otherwise).
bool ApplianceBootsWithKvm(double seconds, std::string& why) {
  // Everything the child needs is made before fork (no allocation after).
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "LIBGUESTFS_BACKEND=", 19) != 0) {
      env_strings.emplace_back(*e);
    }
  }
  env_strings.emplace_back("LIBGUESTFS_BACKEND=direct");
  std::vector<char*> env;
  for (auto& e : env_strings) {
    env.push_back(e.data());
  }
  env.push_back(nullptr);
  const char* argv[] = {"guestfish", "-a", "/dev/null", "run", nullptr};
  const pid_t pid = ::fork();
  if (pid < 0) {
    why = "cannot fork";
    return false;
  }
  if (pid == 0) {
    ::setpgid(0, 0);
    const int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, 0);
    ::dup2(null, 1);
    ::dup2(null, 2);
    ::execvpe("guestfish", const_cast<char**>(argv), env.data());
    ::_exit(127);
  }
  ::setpgid(pid, pid);
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      why = "an appliance did not boot with KVM within " +
            std::to_string(static_cast<int>(seconds)) + " s";
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    return true;
  }
  why = "an appliance failed to boot with KVM";
  return false;
}

std::string BootId() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string id;
  std::getline(in, id);
  return id.empty() ? "unknown" : id;
}

}  // namespace

bool NeedForceTcg(double appliance_seconds) {
  static std::mutex mutex;
  static int decided = -1;  // -1 unknown, 0 KVM, 1 TCG
  std::lock_guard lock(mutex);
  if (decided >= 0) {
    return decided == 1;
  }
  if (const char* env = std::getenv("LIBGUESTFS_BACKEND_SETTINGS")) {
    decided = 0;  // libguestfs applies it itself
    Log(LogLevel::kInfo, std::string("libguestfs backend settings from the "
                                     "environment: ") +
                             env);
    return false;
  }
  const std::string cache = "/var/tmp/sendense-kvm-" + BootId();
  std::string verdict;
  {
    std::ifstream in(cache);
    std::getline(in, verdict);
  }
  if (verdict.empty()) {
    KvmProbe probe = ProbeKvm();
    if (probe.works && !ApplianceBootsWithKvm(appliance_seconds, probe.why)) {
      probe.works = false;
    }
    verdict = probe.works ? "kvm" : "tcg: " + probe.why;
    std::ofstream(cache) << verdict << "\n";
  }
  decided = verdict == "kvm" ? 0 : 1;
  if (decided == 1) {
    Log(LogLevel::kWarning,
        "KVM does not work here (" + verdict.substr(5) +
            "); libguestfs appliances run with TCG (force_tcg), slower");
  } else {
    Log(LogLevel::kInfo, "libguestfs appliances run with KVM");
  }
  return decided == 1;
}

}  // namespace sendense::guest
