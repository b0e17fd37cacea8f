// The host-side traces of a libvirt qemu domain: its qemu process, found so its CPU time
// and PSS can be read (harness/procfs.h) and its disappearance checked after Destroy,
// and the per-domain log libvirt keeps after the domain is gone.
//
//   ISO_ASSIGN_OR_RETURN(pid_t pid, FindQemuPid("isobench-r1-web1"));
//   ISO_ASSIGN_OR_RETURN(double cpu, harness::ProcessCpuSeconds(pid));
#pragma once

#include <sys/types.h>

#include <string>

#include "harness/error.h"

namespace isobench::vm {

// Where the qemu driver of a system libvirtd writes "<domain>.pid".
inline constexpr const char* kLibvirtQemuPidDir = "/run/libvirt/qemu";

// The pid of the qemu running `domain_name`: libvirt's pid file, checked against the
// process's command line (`-name guest=<domain_name>,...`) so a stale file or a recycled
// pid is not believed; falls back to scanning /proc for that argument. ENOENT when no
// such process exists (e.g. a remote or test:// connection).
harness::Result<pid_t> FindQemuPid(const std::string& domain_name,
                                   const std::string& pid_dir = kLibvirtQemuPidDir);

// Whether /proc/<pid>/cmdline contains the argument `guest=<domain_name>`.
bool IsQemuOf(pid_t pid, const std::string& domain_name);

// Where a system libvirtd's qemu driver logs each domain ("<domain>.log", rotated as
// "<domain>.log.N"); the files outlive the domain.
inline constexpr const char* kLibvirtQemuLogDir = "/var/log/libvirt/qemu";

// Removes "<domain_name>.log" and its rotations from `log_dir`. Missing files are fine.
harness::Result<void> RemoveDomainLogs(const std::string& domain_name,
                                       const std::string& log_dir = kLibvirtQemuLogDir);

// Whether a process with this pid exists and is not a zombie.
bool ProcessAlive(pid_t pid);

}  // namespace isobench::vm
