#include "vm/unix_socket.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <thread>

namespace isobench::vm {

using harness::Error;
using harness::Fd;
using harness::Result;

Result<Fd> ConnectUnixSocket(const std::string& path, harness::Clock::time_point deadline) {
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path)
    return Error("connect `" + path + "`: path longer than sun_path", ENAMETOOLONG);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  for (;;) {
    Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd.valid()) return Error::Errno("socket", "AF_UNIX");
    if (::connect(fd.get(), reinterpret_cast<struct sockaddr*>(&addr), sizeof addr) == 0) return fd;
    int saved = errno;
    if ((saved != ENOENT && saved != ECONNREFUSED && saved != EINTR) ||
        harness::Clock::now() >= deadline)
      return Error::Errno(saved, "connect", path);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

Result<void> RemoveFileIfExists(const std::string& path) {
  if (::unlink(path.c_str()) < 0 && errno != ENOENT) return Error::Errno("unlink", path);
  return {};
}

}  // namespace isobench::vm
