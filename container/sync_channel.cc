#include "container/sync_channel.h"

#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

namespace isobench::container {
namespace {

int64_t ClockNs(clockid_t clock) {
  struct timespec ts;
  ::clock_gettime(clock, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// strlcat without libc's locale machinery: safe in the child.
void Append(char* buf, size_t size, const char* text) {
  if (text == nullptr) return;
  size_t used = ::strnlen(buf, size);
  while (*text != '\0' && used + 1 < size) buf[used++] = *text++;
  buf[used] = '\0';
}

void SendRecord(int fd, const SyncRecord& record) {
  // MSG_NOSIGNAL: a parent that went away must not kill the child with SIGPIPE before it
  // can notice the error.
  while (::send(fd, &record, sizeof record, MSG_NOSIGNAL) < 0 && errno == EINTR) {
  }
}

}  // namespace

const char* ChildPhaseName(ChildPhase phase) {
  switch (phase) {
    case ChildPhase::kRootfs:
      return "rootfs";
    case ChildPhase::kExec:
      return "exec";
    case ChildPhase::kClone:
      return "clone";
  }
  return "?";
}

int64_t MonotonicNowNs() { return ClockNs(CLOCK_MONOTONIC); }

void SendPhase(int fd, ChildPhase phase) {
  SyncRecord record;
  record.type = SyncRecord::kPhase;
  record.phase = static_cast<uint32_t>(phase);
  record.monotonic_ns = ClockNs(CLOCK_MONOTONIC);
  record.cpu_ns = ClockNs(CLOCK_PROCESS_CPUTIME_ID);
  SendRecord(fd, record);
}

void SendFailure(int fd, const ChildStatus& status) {
  SyncRecord record;
  record.type = SyncRecord::kError;
  record.err = status.err;
  record.monotonic_ns = ClockNs(CLOCK_MONOTONIC);
  Append(record.what, sizeof record.what, status.op != nullptr ? status.op : "child setup");
  if (status.arg != nullptr) {
    Append(record.what, sizeof record.what, " `");
    Append(record.what, sizeof record.what, status.arg);
    Append(record.what, sizeof record.what, "`");
  }
  SendRecord(fd, record);
}

ChildStatus WaitForGo(int fd) {
  char go = 0;
  for (;;) {
    ssize_t n = ::recv(fd, &go, 1, 0);
    if (n == 1) return ChildStatus::Ok();
    if (n < 0 && errno == EINTR) continue;
    return ChildStatus::Fail(n == 0 ? EPIPE : errno, "recv", "go from the parent");
  }
}

Result<void> SendGo(int fd) {
  char go = 'g';
  for (;;) {
    if (::send(fd, &go, 1, MSG_NOSIGNAL) == 1) return {};
    if (errno == EINTR) continue;
    return Error::Errno("send", "go to the container's child");
  }
}

std::optional<Error> PendingChildFailure(int fd) {
  SyncRecord record;
  for (;;) {
    ssize_t n = ::recv(fd, &record, sizeof record, MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n != static_cast<ssize_t>(sizeof record)) return std::nullopt;
    if (record.type == SyncRecord::kError) {
      record.what[sizeof record.what - 1] = '\0';
      return Error::Errno(record.err, record.what);
    }
  }
}

Result<ChildReport> ReadChildReport(int fd, harness::Clock::time_point deadline) {
  ChildReport report;
  for (;;) {
    auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - harness::Clock::now());
    if (left.count() <= 0) return Error("timed out waiting for the container's child", ETIMEDOUT);
    struct pollfd pfd = {fd, POLLIN, 0};
    int r = ::poll(&pfd, 1, static_cast<int>(left.count()) + 1);
    if (r < 0 && errno != EINTR) return Error::Errno("poll", "container sync channel");
    if (r <= 0) continue;
    SyncRecord record;
    ssize_t n = ::recv(fd, &record, sizeof record, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == ECONNRESET) return report;  // the child's end went away at exec
      return Error::Errno("recv", "container sync channel");
    }
    if (n == 0) return report;  // execve() closed the child's end
    if (static_cast<size_t>(n) != sizeof record)
      return Error("container sync channel: short record of " + std::to_string(n) + " bytes",
                   EPROTO);
    record.what[sizeof record.what - 1] = '\0';
    if (record.type == SyncRecord::kError) return Error::Errno(record.err, record.what);
    if (record.type == SyncRecord::kPhase) {
      report.events.push_back({static_cast<ChildPhase>(record.phase), record.monotonic_ns});
      report.cpu_ns = record.cpu_ns;
    }
  }
}

}  // namespace isobench::container
