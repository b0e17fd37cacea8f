#include "container/namespaces.h"

#include <linux/sched.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>

#if defined(ISOBENCH_ASAN)
#include <sanitizer/asan_interface.h>
#endif

namespace isobench::container {
namespace {

struct NamespaceSwitch {
  bool harness::SecurityProfile::*enabled;
  uint64_t flag;
  const char* name;
};

// CLONE_NEWTIME (0x80) only fits clone3()'s 64-bit flags: in clone() it is CSIGNAL.
constexpr NamespaceSwitch kSwitches[] = {
    {&harness::SecurityProfile::user_ns, CLONE_NEWUSER, "user"},
    {&harness::SecurityProfile::mount_ns, CLONE_NEWNS, "mnt"},
    {&harness::SecurityProfile::pid_ns, CLONE_NEWPID, "pid"},
    {&harness::SecurityProfile::uts_ns, CLONE_NEWUTS, "uts"},
    {&harness::SecurityProfile::ipc_ns, CLONE_NEWIPC, "ipc"},
    {&harness::SecurityProfile::net_ns, CLONE_NEWNET, "net"},
    {&harness::SecurityProfile::time_ns, CLONE_NEWTIME, "time"},
};

}  // namespace

#if defined(__x86_64__)
// clone3() whose child runs fn(arg) on the stack given in the clone_args and exits with
// its result; the parent gets clone3()'s return value. glibc exports no clone3() and its
// clone() has only 32 flag bits (no CLONE_INTO_CGROUP), so, as glibc's own internal
// __clone3 does, the child's first instructions are written by hand: on return from the
// system call it already stands on the new stack, where the caller's frame is absent.
extern "C" long isobench_clone3_run(struct clone_args* args, size_t size, int (*fn)(void*),
                                    void* arg);
static_assert(SYS_clone3 == 435 && SYS_exit == 60, "x86_64 system call numbers");
asm(R"(
    .text
    .globl isobench_clone3_run
    .hidden isobench_clone3_run
    .type isobench_clone3_run, @function
isobench_clone3_run:
    .cfi_startproc
    movq %rdx, %r8          /* fn and arg survive the system call in r8, r9 */
    movq %rcx, %r9
    movl $435, %eax         /* clone3(args, size) */
    syscall
    testq %rax, %rax
    jz 1f
    ret                     /* parent (after the child's execve or exit) or -errno */
1:
    .cfi_undefined rip      /* child: no caller frame to unwind into */
    xorl %ebp, %ebp
    movq %r9, %rdi
    call *%r8
    movl %eax, %edi
    movl $60, %eax          /* exit(fn(arg)) */
    syscall
    hlt
    .cfi_endproc
    .size isobench_clone3_run, .-isobench_clone3_run
)");

bool CanCloneAndRun() { return true; }

pid_t Clone3AndRun(uint64_t flags, int cgroup_fd, ChildStack& stack, int (*fn)(void*), void* arg) {
  struct clone_args args = {};
  args.flags = flags | CLONE_VM | CLONE_VFORK;
  args.exit_signal = SIGCHLD;
  if (cgroup_fd >= 0) {
    args.flags |= CLONE_INTO_CGROUP;
    args.cgroup = static_cast<uint64_t>(cgroup_fd);
  }
  args.stack = reinterpret_cast<uint64_t>(stack.base());
  args.stack_size = stack.size();
#if defined(ISOBENCH_ASAN)
  // The previous child exec'd without returning from its frames, whose shadow still
  // says "out of scope"; the stack is reused, so clear it (the shadow is shared too).
  ASAN_UNPOISON_MEMORY_REGION(stack.base(), stack.size());
#endif
  long r = isobench_clone3_run(&args, sizeof args, fn, arg);
  if (r < 0) {
    errno = static_cast<int>(-r);
    return -1;
  }
  return static_cast<pid_t>(r);
}
#else
bool CanCloneAndRun() { return false; }

pid_t Clone3AndRun(uint64_t, int, ChildStack&, int (*)(void*), void*) {
  errno = ENOSYS;
  return -1;
}
#endif

ChildStack::ChildStack(size_t size) : size_(size) {
  // A guard page below: a child that overruns its stack faults instead of writing
  // into the harness's memory, which it shares.
  void* p = ::mmap(nullptr, size_ + kGuard, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (p == MAP_FAILED) return;
  if (::mprotect(p, kGuard, PROT_NONE) != 0) {
    ::munmap(p, size_ + kGuard);
    return;
  }
  mapping_ = p;
}

ChildStack::~ChildStack() {
  if (mapping_ != nullptr) ::munmap(mapping_, size_ + kGuard);
}

void* ChildStack::base() const {
  return mapping_ == nullptr ? nullptr : static_cast<char*>(mapping_) + kGuard;
}

uint64_t CloneFlags(const harness::SecurityProfile& profile) {
  uint64_t flags = 0;
  for (const auto& s : kSwitches)
    if (profile.*(s.enabled)) flags |= s.flag;
  return flags;
}

std::vector<std::string> NamespaceNames(const harness::SecurityProfile& profile) {
  std::vector<std::string> names;
  for (const auto& s : kSwitches)
    if (profile.*(s.enabled)) names.push_back(s.name);
  if (profile.cgroup_ns) names.push_back("cgroup");
  return names;
}

pid_t Clone3(uint64_t flags, int cgroup_fd) {
  struct clone_args args = {};
  args.flags = flags;
  args.exit_signal = SIGCHLD;
  if (cgroup_fd >= 0) {
    args.flags |= CLONE_INTO_CGROUP;
    args.cgroup = static_cast<uint64_t>(cgroup_fd);
  }
  return static_cast<pid_t>(::syscall(SYS_clone3, &args, sizeof args));
}

ChildStatus EnterCgroupNamespace(bool enabled) {
  if (enabled && ::unshare(CLONE_NEWCGROUP) != 0)
    return ChildStatus::Errno("unshare", "CLONE_NEWCGROUP");
  return ChildStatus::Ok();
}

ChildStatus SetHostname(const std::string& hostname, bool uts_ns) {
  // Without its own UTS namespace the child would rename the host.
  if (uts_ns && ::sethostname(hostname.data(), hostname.size()) != 0)
    return ChildStatus::Errno("sethostname", hostname.c_str());
  return ChildStatus::Ok();
}

Result<std::map<std::string, uint64_t>> NamespaceInodes(pid_t pid) {
  std::map<std::string, uint64_t> inodes;
  std::string dir = "/proc/" + std::to_string(pid) + "/ns/";
  struct stat dir_st;
  if (::stat(dir.c_str(), &dir_st) != 0) return Error::Errno("stat", dir);
  for (const char* name : {"cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"}) {
    struct stat st;
    std::string path = dir + name;
    if (::stat(path.c_str(), &st) != 0) {
      if (errno == ENOENT) continue;  // a kernel without that namespace type
      return Error::Errno("stat", path);
    }
    inodes[name] = st.st_ino;
  }
  return inodes;
}

}  // namespace isobench::container
