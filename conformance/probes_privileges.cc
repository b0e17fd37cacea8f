// Privilege probes (PROBES.md 30-38, 44, 45): capability sets, no_new_privs, seccomp,
// and the escapes they block.
#include <cstdint>
#include <cstdio>
#include <string>

#include "conformance/probes_catalogue.h"

namespace isobench::conformance::catalogue {

using json = nlohmann::json;

namespace {

std::string Hex(uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace

void AddPrivilegeProbes(Catalogue& add) {
  add(30, "capabilities",
      "capability sets are the profile's; never SYS_ADMIN, SYS_PTRACE, ... by default",
      "privileges", Needs(&S::drop_capabilities, "a capability drop"),
      [](const Expectations& e, HostFacts&) {
        json params = {{"bounding", Hex(e.caps.bounding)},
                       {"effective", Hex(e.caps.effective)},
                       {"permitted", Hex(e.caps.permitted)},
                       {"inheritable", Hex(e.caps.inheritable)},
                       {"ambient", Hex(e.caps.ambient)}};
        if (e.forbidden_caps) params["forbidden"] = Hex(e.forbidden_caps);
        return params;
      });
  add(31, "capabilities_not_full", "CapEff is never the host's whole bounding set", "privileges",
      Needs(&S::drop_capabilities, "a capability drop"), [](const Expectations&, HostFacts& h) {
        return json{{"host_bounding", Hex(h.limits().bounding_set)}};
      });
  add(32, "no_new_privs", "NoNewPrivs is 1", "privileges", Needs(&S::no_new_privs, "no_new_privs"),
      NoParams);
  add(33, "open_by_handle_at", "open_by_handle_at (shocker) fails with EPERM", "privileges",
      NeedsAny({&S::drop_capabilities, &S::seccomp}, "a capability drop, seccomp"), NoParams);
  add(34, "module_loading", "init_module / finit_module fail with EPERM", "privileges",
      NeedsAny({&S::drop_capabilities, &S::seccomp}, "a capability drop, seccomp"), NoParams);
  add(35, "ptrace_outside", "ptrace of a host process fails", "privileges",
      NeedsAny({&S::pid_ns, &S::drop_capabilities, &S::seccomp},
               "a pid namespace, a capability drop, seccomp"),
      SentinelParams);
  add(36, "seccomp_mode", "Seccomp: 2 (filter)", "privileges", Needs(&S::seccomp, "seccomp"),
      NoParams);
  add(37, "seccomp_denied",
      "keyctl, add_key, mount, umount2, unshare, setns, kexec_load, reboot, swapon, "
      "perf_event_open, bpf are denied",
      "privileges", Needs(&S::seccomp, "seccomp"), NoParams);
  add(38, "unknown_syscall", "an unknown system call number fails with ENOSYS", "privileges",
      Always, NoParams);
  add(44, "leaked_fds", "no file descriptor leaked from the host beyond stdio and the channel",
      "privileges", Always, NoParams);
  add(45, "thread_uniformity", "every thread of init shares creds, caps and seccomp", "privileges",
      Retired("after execve(2) init has one thread and every later thread is cloned from it, "
              "inheriting creds, caps and seccomp, so no runtime can make init's threads differ"),
      NoParams);
}

}  // namespace isobench::conformance::catalogue
