// The result type of steps that run in the cloned child, between clone3() and execve().
//
// The child of a (possibly multi-threaded) harness may only make raw system calls on
// data the parent prepared: no allocation, no locks, no iostreams. A failing step
// returns the errno and two static or preformatted strings naming the system call and
// its argument; the child sends them to the parent over the sync channel, which turns
// them into an `Error` in crun's style ("mount `/proc`: Permission denied").
//
//   ChildStatus MountProc(const char* target) {
//     if (::mount("proc", target, "proc", 0, nullptr) != 0)
//       return ChildStatus::Errno("mount proc", target);
//     return ChildStatus::Ok();
//   }
//   CHILD_RETURN_IF_ERROR(MountProc(plan.proc_target));
#pragma once

#include <cerrno>

#include "harness/error.h"

namespace isobench::container {

// Every file of the container runtime speaks the harness's error values.
using harness::Error;
using harness::Result;

struct [[nodiscard]] ChildStatus {
  int err = 0;
  const char* op = nullptr;   // the system call, e.g. "mount overlay"
  const char* arg = nullptr;  // its argument, e.g. the target path

  static ChildStatus Ok() { return {}; }
  // Takes errno at the call.
  static ChildStatus Errno(const char* op, const char* arg) {
    return {errno != 0 ? errno : EIO, op, arg};
  }
  static ChildStatus Fail(int err, const char* op, const char* arg) { return {err, op, arg}; }
  bool ok() const { return err == 0; }
};

}  // namespace isobench::container

#define CHILD_RETURN_IF_ERROR(expr)                            \
  do {                                                         \
    ::isobench::container::ChildStatus child_status_ = (expr); \
    if (!child_status_.ok()) return child_status_;             \
  } while (0)
