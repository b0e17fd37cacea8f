#include "harness/fd.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <string>

namespace isobench::harness {

void Fd::Reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

Result<Fd> Open(const std::string& path, int flags, int mode) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  if (fd < 0) return Error::Errno("open", path);
  return Fd(fd);
}

Result<Fd> OpenAt(int dir_fd, const std::string& name, int flags, const std::string& shown) {
  int fd = ::openat(dir_fd, name.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return Error::Errno("open", shown);
  return Fd(fd);
}

Result<std::string> ReadFile(const std::string& path) { return ReadFileAt(AT_FDCWD, path, path); }

Result<std::string> ReadFileAt(int dir_fd, const std::string& name, const std::string& shown) {
  ISO_ASSIGN_OR_RETURN(Fd fd, OpenAt(dir_fd, name, O_RDONLY, shown));
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::Errno("read", shown);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

namespace {

Result<void> WriteOnce(const Fd& fd, std::string_view data, const std::string& shown) {
  ssize_t n = ::write(fd.get(), data.data(), data.size());
  if (n < 0) return Error::Errno("write", shown + " <- " + std::string(data));
  if (static_cast<size_t>(n) != data.size()) return Error("short write to `" + shown + "`", EIO);
  return {};
}

}  // namespace

Result<void> WriteFile(const std::string& path, std::string_view data, int flags) {
  ISO_ASSIGN_OR_RETURN(Fd fd, Open(path, flags));
  return WriteOnce(fd, data, path);
}

Result<void> WriteFileAt(int dir_fd, const std::string& name, std::string_view data,
                         const std::string& shown) {
  ISO_ASSIGN_OR_RETURN(Fd fd, OpenAt(dir_fd, name, O_WRONLY, shown));
  return WriteOnce(fd, data, shown);
}

Result<void> WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::Errno("write", "fd " + std::to_string(fd));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

Result<void> WriteWholeFile(const std::string& path, std::string_view data, int mode) {
  std::string tmp = path + ".tmp";
  {
    ISO_ASSIGN_OR_RETURN(Fd fd, Open(tmp, O_WRONLY | O_CREAT | O_TRUNC, mode));
    ISO_RETURN_IF_ERROR(WriteAll(fd.get(), data).Context("writing `" + tmp + "`"));
    if (::fchmod(fd.get(), mode) != 0) return Error::Errno("fchmod", tmp);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Error::Errno("rename", tmp);
  return {};
}

Result<void> MakeDirs(const std::string& path, int mode) {
  if (path.empty()) return Error("mkdir: empty path", EINVAL);
  std::string prefix;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    prefix = path.substr(0, pos);
    if (prefix.empty()) continue;
    if (::mkdir(prefix.c_str(), mode) != 0 && errno != EEXIST) return Error::Errno("mkdir", prefix);
  }
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return Error::Errno("stat", path);
  if (!S_ISDIR(st.st_mode))
    return Error("mkdir `" + path + "`: exists and is not a directory", ENOTDIR);
  return {};
}

namespace {

Result<void> RemoveAt(int parent_fd, const std::string& name, const std::string& display,
                      dev_t dev) {
  struct stat st;
  if (::fstatat(parent_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return {};
    return Error::Errno("stat", display);
  }
  if (S_ISDIR(st.st_mode)) {
    if (st.st_dev != dev)
      return Error("refusing to remove `" + display + "`: it is a mount point", EXDEV);
    int dfd = ::openat(parent_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0) return Error::Errno("open", display);
    DIR* dir = ::fdopendir(dfd);
    if (dir == nullptr) {
      ::close(dfd);
      return Error::Errno("fdopendir", display);
    }
    Result<void> result;
    while (struct dirent* entry = ::readdir(dir)) {
      std::string child = entry->d_name;
      if (child == "." || child == "..") continue;
      result = RemoveAt(dfd, child, display + "/" + child, dev);
      if (!result.ok()) break;
    }
    ::closedir(dir);
    if (!result.ok()) return result;
    if (::unlinkat(parent_fd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT)
      return Error::Errno("rmdir", display);
    return {};
  }
  if (::unlinkat(parent_fd, name.c_str(), 0) != 0 && errno != ENOENT)
    return Error::Errno("unlink", display);
  return {};
}

}  // namespace

Result<void> RemoveTree(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return {};
    return Error::Errno("stat", path);
  }
  return RemoveAt(AT_FDCWD, path, path, st.st_dev);
}

Result<std::vector<std::string>> ListDir(const std::string& path) {
  std::vector<std::string> names;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec))
    names.push_back(it->path().filename().string());
  if (ec) return Error("listing `" + path + "`: " + ec.message(), ec.value());
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace isobench::harness
