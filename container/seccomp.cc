#include "container/seccomp.h"

#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "harness/fd.h"

namespace isobench::container {
namespace {

// Owner of a libseccomp context.
struct ContextDeleter {
  void operator()(scmp_filter_ctx ctx) const { seccomp_release(ctx); }
};
using Context = std::unique_ptr<void, ContextDeleter>;

}  // namespace

const std::vector<std::string>& DefaultDeniedSyscalls() {
  // moby profiles/seccomp/default.json: syscalls absent from its allow list (or allowed
  // only with CAP_SYS_ADMIN & co., which the default capability set lacks).
  static const std::vector<std::string> kDenied = {
      "acct",
      "add_key",
      "bpf",
      "clock_adjtime",
      "clock_settime",
      "create_module",
      "delete_module",
      "finit_module",
      "fsconfig",
      "fsmount",
      "fsopen",
      "fspick",
      "get_kernel_syms",
      "get_mempolicy",
      "init_module",
      "io_uring_enter",
      "io_uring_register",
      "io_uring_setup",
      "ioperm",
      "iopl",
      "kcmp",
      "kexec_file_load",
      "kexec_load",
      "keyctl",
      "lookup_dcookie",
      "mbind",
      "mount",
      "mount_setattr",
      "move_mount",
      "move_pages",
      "name_to_handle_at",
      "nfsservctl",
      "open_by_handle_at",
      "open_tree",
      "perf_event_open",
      "pivot_root",
      "process_vm_readv",
      "process_vm_writev",
      "ptrace",
      "query_module",
      "quotactl",
      "quotactl_fd",
      "reboot",
      "request_key",
      "set_mempolicy",
      "setns",
      "settimeofday",
      "stime",
      "swapoff",
      "swapon",
      "syslog",
      "_sysctl",
      "sysfs",
      "umount",
      "umount2",
      "unshare",
      "uselib",
      "userfaultfd",
      "ustat",
      "vm86",
      "vm86old",
      "lsm_set_self_attr",
      "fanotify_init",
  };
  return kDenied;
}

Result<std::shared_ptr<const SeccompFilter>> SeccompFilter::CompileDefault() {
  Context ctx(seccomp_init(SCMP_ACT_ALLOW));
  if (!ctx) return Error("seccomp_init failed", ENOMEM);
  int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
  if (rc < 0) return Error::Errno(-rc, "seccomp_attr_set", "SCMP_FLTATR_ACT_BADARCH");

  auto filter = std::shared_ptr<SeccompFilter>(new SeccompFilter());
  for (const std::string& name : DefaultDeniedSyscalls()) {
    int nr = seccomp_syscall_resolve_name(name.c_str());
    if (nr == __NR_SCMP_ERROR || nr < 0) continue;  // not on this architecture
    rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(EPERM), nr, 0);
    if (rc < 0) return Error::Errno(-rc, "seccomp_rule_add", name);
    filter->denied_.push_back(name);
  }
  // clone(2) with any CLONE_NEW* flag: one masked-equality rule per flag.
  for (uint64_t flag : {CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID,
                        CLONE_NEWNET, CLONE_NEWCGROUP}) {
    rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                          SCMP_A0(SCMP_CMP_MASKED_EQ, flag, flag));
    if (rc < 0) return Error::Errno(-rc, "seccomp_rule_add", "clone namespace flags");
  }
  // clone3 passes its flags in memory a filter cannot read.
  rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
  if (rc < 0) return Error::Errno(-rc, "seccomp_rule_add", "clone3");
  filter->denied_.push_back("clone3");

  // libseccomp 2.5 exports only to an fd; a memfd keeps it off disk.
  harness::Fd memfd(::memfd_create("isobench-seccomp", MFD_CLOEXEC));
  if (!memfd.valid()) return Error::Errno("memfd_create", "isobench-seccomp");
  rc = seccomp_export_bpf(ctx.get(), memfd.get());
  if (rc < 0) return Error::Errno(-rc, "seccomp_export_bpf", "memfd");
  off_t size = ::lseek(memfd.get(), 0, SEEK_END);
  if (size <= 0 || size % sizeof(struct sock_filter) != 0)
    return Error("seccomp_export_bpf wrote " + std::to_string(size) + " bytes", EPROTO);
  filter->code_.resize(static_cast<size_t>(size) / sizeof(struct sock_filter));
  if (::pread(memfd.get(), filter->code_.data(), static_cast<size_t>(size), 0) != size)
    return Error::Errno("pread", "seccomp memfd");
  filter->program_.len = static_cast<unsigned short>(filter->code_.size());
  filter->program_.filter = filter->code_.data();
  return std::shared_ptr<const SeccompFilter>(std::move(filter));
}

ChildStatus InstallSeccomp(const SeccompFilter* filter) {
  if (filter == nullptr) return ChildStatus::Ok();
  if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, filter->program()) != 0)
    return ChildStatus::Errno("seccomp", "SECCOMP_SET_MODE_FILTER");
  return ChildStatus::Ok();
}

}  // namespace isobench::container
