#include "harness/security_defaults.h"

#include <sys/resource.h>

namespace isobench::harness {

const std::vector<std::string>& DockerDefaultCapabilities() {
  static const std::vector<std::string> kDefaults = {
      "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
      "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
      "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
      "CAP_KILL",    "CAP_AUDIT_WRITE",
  };
  return kDefaults;
}

const std::vector<std::string>& DefaultMaskedPaths() {
  static const std::vector<std::string> kPaths = {
      "/proc/acpi",
      "/proc/asound",
      "/proc/kcore",
      "/proc/keys",
      "/proc/latency_stats",
      "/proc/timer_list",
      "/proc/timer_stats",
      "/proc/sched_debug",
      "/proc/scsi",
      "/sys/firmware",
      "/sys/devices/virtual/powercap",
  };
  return kPaths;
}

const std::vector<std::string>& DefaultReadonlyPaths() {
  static const std::vector<std::string> kPaths = {
      "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
  };
  return kPaths;
}

const std::vector<DefaultRlimit>& DefaultRlimits() {
  static const std::vector<DefaultRlimit> kDefaults = {
      {"nofile", RLIMIT_NOFILE, 1024, 4096},
      {"core", RLIMIT_CORE, 0, 0},
      {"memlock", RLIMIT_MEMLOCK, 8ull << 20, 8ull << 20},
  };
  return kDefaults;
}

const std::vector<ProfileSwitch>& ProfileSwitches() {
  using S = SecurityProfile;
  static const std::vector<ProfileSwitch> kSwitches = {
      {"pid_ns", &S::pid_ns},
      {"mount_ns", &S::mount_ns},
      {"uts_ns", &S::uts_ns},
      {"ipc_ns", &S::ipc_ns},
      {"net_ns", &S::net_ns},
      {"cgroup_ns", &S::cgroup_ns},
      {"user_ns", &S::user_ns},
      {"time_ns", &S::time_ns, /*weakened=*/false},
      {"pivot_root", &S::pivot_root},
      {"read_only_root", &S::read_only_root},
      {"mask_paths", &S::mask_paths},
      {"minimal_dev", &S::minimal_dev},
      {"read_only_sys", &S::read_only_sys},
      {"drop_capabilities", &S::drop_capabilities},
      {"no_new_privs", &S::no_new_privs},
      {"seccomp", &S::seccomp},
      {"memory_limit", &S::memory_limit},
      {"pids_limit", &S::pids_limit},
      {"cpu_limit", &S::cpu_limit},
      {"rlimits", &S::rlimits},
      {"network_guard", &S::network_guard},
  };
  return kSwitches;
}

}  // namespace isobench::harness
