// The parent <-> child synchronisation channel used while a container starts.
//
// A SOCK_SEQPACKET socketpair, close-on-exec on the child's side: every record is one
// message, and a successful execve() of the agent closes the child's end, which the
// parent sees as end-of-file. The child reports phase boundaries stamped with
// CLOCK_MONOTONIC (the host's clock: a container shares the kernel, and the time
// namespace, when used, gets no offsets) and, on failure, the failing system call.
// In a two-step start the parent answers with one "go" byte once it has done its part:
// the id maps of a user namespace, the veth of a bridged network. (The child moves
// itself into its cgroups.) A one-step start has no "go".
//
//   parent                                   child (after clone3)
//   write id maps, move veth in              JoinCgroups
//   SendGo(fd)              ------------->   WaitForGo(fd)
//                           <-------------   SendPhase(fd, kRootfs) ... SendPhase(kExec)
//   ReadChildReport(fd) == EOF  <--------    execve() closes the channel
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "container/child_status.h"
#include "harness/backend.h"
#include "harness/error.h"

namespace isobench::container {

enum class ChildPhase : uint32_t {
  kRootfs = 1,  // new root entered (pivot_root or chroot done)
  kExec = 2,    // about to execve() the agent
  kClone = 3,   // first instruction of a child started in one step (see StartsInOneStep)
};
const char* ChildPhaseName(ChildPhase phase);

// One message on the channel. Plain data so the child can fill it without allocating.
struct SyncRecord {
  enum Type : uint32_t { kPhase = 1, kError = 2 };
  uint32_t type = 0;
  uint32_t phase = 0;
  int32_t err = 0;
  int32_t reserved = 0;
  int64_t monotonic_ns = 0;  // CLOCK_MONOTONIC at the event
  int64_t cpu_ns = 0;        // CLOCK_PROCESS_CPUTIME_ID of the child at the event
  char what[496] = {};       // kError: "<op> `<arg>`"
};

// Child side: async-signal-safe, never allocate.
void SendPhase(int fd, ChildPhase phase);
void SendFailure(int fd, const ChildStatus& status);
// Blocks until the parent's go byte; an error if the parent went away.
ChildStatus WaitForGo(int fd);

// Parent side.
Result<void> SendGo(int fd);

struct ChildReport {
  struct Event {
    ChildPhase phase;
    int64_t monotonic_ns;
  };
  std::vector<Event> events;
  int64_t cpu_ns = 0;  // child CPU time spent before execve
};

// Reads records until end-of-file (the child exec'd) or a failure record, which becomes
// an Error "<op> `<arg>`: <strerror>". Gives up at `deadline`.
Result<ChildReport> ReadChildReport(int fd, harness::Clock::time_point deadline);

// A failure record the child already sent, without waiting: after the parent sees the
// child gone (e.g. ESRCH moving it into a cgroup), the child's own account is the
// better error.
std::optional<Error> PendingChildFailure(int fd);

// CLOCK_MONOTONIC now, in nanoseconds (what harness::Clock measures on Linux).
int64_t MonotonicNowNs();

}  // namespace isobench::container
