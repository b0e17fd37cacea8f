#include "container/network.h"

#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace isobench::container {

Result<void> ValidateNetwork(const std::string& network) {
  if (network == "none" || network.empty()) return {};
  return Error("network `" + network +
                   "` is not supported by the container backend (only "
                   "\"none\": loopback in a private network namespace)",
               EINVAL);
}

ChildStatus BringUpLoopback(bool net_ns) {
  if (!net_ns) return ChildStatus::Ok();
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ChildStatus::Errno("socket", "AF_INET");
  struct ifreq ifr;
  std::memset(&ifr, 0, sizeof ifr);
  std::memcpy(ifr.ifr_name, "lo", 3);
  ChildStatus status = ChildStatus::Ok();
  if (::ioctl(fd, SIOCGIFFLAGS, &ifr) != 0) {
    status = ChildStatus::Errno("ioctl SIOCGIFFLAGS", "lo");
  } else {
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP | IFF_RUNNING);
    if (::ioctl(fd, SIOCSIFFLAGS, &ifr) != 0)
      status = ChildStatus::Errno("ioctl SIOCSIFFLAGS", "lo");
  }
  ::close(fd);
  return status;
}

}  // namespace isobench::container
