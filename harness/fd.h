// Move-only owner of a file descriptor (sandbox2's FDCloser).
//
//   Fd fd(open(path, O_RDONLY | O_CLOEXEC));
//   if (!fd.valid()) return Error::Errno("open", path);
//   read(fd.get(), ...);            // borrow
//   int raw = fd.Release();         // hand over ownership
//
// The destructor closes; close errors are ignored because POSIX leaves the fd state
// unspecified after EINTR and retrying could close an fd another thread just opened.
#pragma once

#include <fcntl.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "harness/error.h"

namespace isobench::harness {

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) Reset(std::exchange(other.fd_, -1));
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { Reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int Release() { return std::exchange(fd_, -1); }
  void Reset(int fd = -1);

 private:
  int fd_ = -1;
};

// open(2) with O_CLOEXEC added; the error names the path.
Result<Fd> Open(const std::string& path, int flags, int mode = 0);
// openat(2) with O_CLOEXEC added, `name` relative to `dir_fd` (AT_FDCWD: as open(2));
// the error names `shown`, the file's full path.
Result<Fd> OpenAt(int dir_fd, const std::string& name, int flags, const std::string& shown);

// Whole-file helpers for small kernel interface files (/proc, /sys, cgroupfs).
Result<std::string> ReadFile(const std::string& path);
Result<std::string> ReadFileAt(int dir_fd, const std::string& name, const std::string& shown);
// Writes `data` with a single write(2), as kernel interface files require.
Result<void> WriteFile(const std::string& path, std::string_view data, int flags = O_WRONLY);
Result<void> WriteFileAt(int dir_fd, const std::string& name, std::string_view data,
                         const std::string& shown);
// Writes a regular file atomically-enough for caches: create, write all, fsync not needed.
Result<void> WriteWholeFile(const std::string& path, std::string_view data, int mode = 0644);

// Writes all of `data`, retrying on EINTR and short writes.
Result<void> WriteAll(int fd, std::string_view data);

// mkdir -p; existing directories are fine.
Result<void> MakeDirs(const std::string& path, int mode = 0755);
// rm -rf that never crosses a mount point (so a stray bind mount cannot take host
// files with it). A missing path is success.
Result<void> RemoveTree(const std::string& path);
// Entry names of a directory (no "." or ".."), sorted; an error naming it when it cannot
// be listed (ENOENT when it does not exist).
Result<std::vector<std::string>> ListDir(const std::string& path);

}  // namespace isobench::harness
