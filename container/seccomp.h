// seccomp: a Docker-like default filter, compiled once with libseccomp and installed
// in the child as raw BPF.
//
//   ISO_ASSIGN_OR_RETURN(std::shared_ptr<const SeccompFilter> filter,
//                        SeccompFilter::CompileDefault());   // once per backend
//   // child, after no_new_privs and before the capability drop:
//   CHILD_RETURN_IF_ERROR(InstallSeccomp(filter.get()));
//
// Compiling costs far more than a container start, so the backend exports the BPF
// (seccomp_export_bpf) once and every child only calls seccomp(2). The filter allows by
// default and denies with EPERM what Docker's default profile does not allow: module
// loading, kexec, mount and the new mount API, namespace creation (unshare, setns,
// clone with CLONE_NEW*), keyrings, bpf, perf_event_open, ptrace, open_by_handle_at,
// reboot, swap, clock setting, and so on. clone3 gets ENOSYS so that libc falls back to
// clone, whose flags a filter can inspect. Any non-native architecture (i386, x32
// syscalls of an x86-64 process) kills the process.
#pragma once

#include <linux/filter.h>

#include <memory>
#include <string>
#include <vector>

#include "container/child_status.h"

namespace isobench::container {

class SeccompFilter {
 public:
  static Result<std::shared_ptr<const SeccompFilter>> CompileDefault();

  size_t instructions() const { return code_.size(); }
  const struct sock_fprog* program() const { return &program_; }
  // Syscalls the filter denies (those known on this architecture).
  const std::vector<std::string>& denied() const { return denied_; }

 private:
  std::vector<struct sock_filter> code_;
  struct sock_fprog program_ = {};
  std::vector<std::string> denied_;
};

// Docker's default deny list, by name (some exist only on some architectures).
const std::vector<std::string>& DefaultDeniedSyscalls();

// Child: seccomp(SECCOMP_SET_MODE_FILTER). Without no_new_privs the kernel requires
// CAP_SYS_ADMIN, which the child still has at this point. nullptr: no filter.
ChildStatus InstallSeccomp(const SeccompFilter* filter);

}  // namespace isobench::container
