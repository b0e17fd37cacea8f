#include "container/network.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <thread>

#include "harness/bridge_guard.h"
#include "harness/fd.h"
#include "harness/log.h"
#include "harness/netlink.h"

namespace isobench::container {
namespace {

using harness::NlError;
using harness::NlLink;
using harness::NlSock;

struct sockaddr_in Inet(uint32_t host_order) {
  struct sockaddr_in sa = {};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(host_order);
  return sa;
}

}  // namespace

Result<void> ValidateNetwork(const std::string& network, bool net_ns) {
  if (network == "none" || network.empty()) return {};
  if (network == "bridge") {
    if (!net_ns)
      return Error("network `bridge` needs a network namespace (profile.net_ns)", EINVAL);
    return {};
  }
  return Error("network `" + network +
                   "` is not supported by the container backend (\"none\": "
                   "loopback only; \"bridge\": veth into the host bridge " +
                   kBridgeName + ")",
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

Result<VethPlan> PlanVeth(bool guard) {
  ISO_ASSIGN_OR_RETURN(harness::BridgeSlot slot, harness::PlanBridgeSlot(kVethPrefix));
  VethPlan plan;
  plan.enabled = true;
  plan.guard = guard;
  plan.host_name = slot.link_name;
  plan.address = slot.address;
  plan.addr = Inet(slot.address_host_order);
  plan.netmask = Inet(~0u << (32 - harness::CurrentBridgeSubnet().prefix));
  return plan;
}

Result<VethLink> VethLink::Create(const VethPlan& plan, pid_t child_pid) {
  ISO_ASSIGN_OR_RETURN(int bridge, harness::EnsureBridge());
  ISO_ASSIGN_OR_RETURN(NlSock sock, harness::ConnectRoute());
  NlLink veth(rtnl_link_veth_alloc());
  if (!veth) return Error("rtnl_link_veth_alloc failed", ENOMEM);
  rtnl_link_set_name(veth.get(), plan.host_name.c_str());
  rtnl_link_set_master(veth.get(), bridge);
  rtnl_link_set_flags(veth.get(), IFF_UP);
  struct rtnl_link* peer = rtnl_link_veth_get_peer(veth.get());
  rtnl_link_set_name(peer, "eth0");
  rtnl_link_set_ns_pid(peer, child_pid);
  rtnl_link_put(peer);
  int err = rtnl_link_add(sock.get(), veth.get(), NLM_F_CREATE | NLM_F_EXCL);
  if (err < 0)
    return NlError(err, "create veth `" + plan.host_name + "` <-> eth0 in pid " +
                            std::to_string(child_pid) + "'s netns");
  VethLink link(plan.host_name);
  // Before the instance runs: nothing has used the port yet.
  if (!plan.guard) link.exempt_ = plan.address;
  ISO_RETURN_IF_ERROR(
      harness::GuardInstancePort(kBridgeName, plan.host_name, plan.address, plan.guard));
  return link;
}

VethLink& VethLink::operator=(VethLink&& other) noexcept {
  if (this != &other) {
    (void)Delete();
    name_ = std::move(other.name_);
    exempt_ = std::move(other.exempt_);
    other.name_.clear();
    other.exempt_.clear();
  }
  return *this;
}

VethLink::~VethLink() {
  auto r = Delete();
  if (!r.ok()) ISO_LOG(kWarning) << r.error().message();
}

Result<void> VethLink::Delete() {
  if (!exempt_.empty()) {
    std::string address = std::move(exempt_);
    exempt_.clear();
    ISO_RETURN_IF_ERROR(harness::UnexemptFromGuard(kBridgeName, address));
  }
  if (name_.empty()) return {};
  std::string name = std::move(name_);
  name_.clear();
  if (!harness::LinkExists(name)) return {};  // went with the instance's namespace
  ISO_ASSIGN_OR_RETURN(NlSock sock, harness::ConnectRoute());
  NlLink link(rtnl_link_alloc());
  rtnl_link_set_name(link.get(), name.c_str());
  int err = rtnl_link_delete(sock.get(), link.get());
  if (err < 0 && err != -NLE_NODEV && err != -NLE_OBJ_NOTFOUND)
    return NlError(err, "delete veth `" + name + "`");
  return {};
}

ChildStatus ConfigureEth0(const VethPlan& plan) {
  if (!plan.enabled) return ChildStatus::Ok();
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ChildStatus::Errno("socket", "AF_INET");
  struct ifreq ifr;
  std::memset(&ifr, 0, sizeof ifr);
  std::memcpy(ifr.ifr_name, "eth0", 5);
  ChildStatus status = ChildStatus::Ok();
  std::memcpy(&ifr.ifr_addr, &plan.addr, sizeof plan.addr);
  if (::ioctl(fd, SIOCSIFADDR, &ifr) != 0) status = ChildStatus::Errno("ioctl SIOCSIFADDR", "eth0");
  std::memcpy(&ifr.ifr_netmask, &plan.netmask, sizeof plan.netmask);
  if (status.ok() && ::ioctl(fd, SIOCSIFNETMASK, &ifr) != 0)
    status = ChildStatus::Errno("ioctl SIOCSIFNETMASK", "eth0");
  if (status.ok() && ::ioctl(fd, SIOCGIFFLAGS, &ifr) != 0)
    status = ChildStatus::Errno("ioctl SIOCGIFFLAGS", "eth0");
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP | IFF_RUNNING);
  if (status.ok() && ::ioctl(fd, SIOCSIFFLAGS, &ifr) != 0)
    status = ChildStatus::Errno("ioctl SIOCSIFFLAGS", "eth0");
  ::close(fd);
  return status;
}

Result<void> ConfigureEth0Of(pid_t pid, const VethPlan& plan) {
  const std::string ns = "/proc/" + std::to_string(pid) + "/ns/net";
  ISO_ASSIGN_OR_RETURN(harness::Fd fd, harness::Open(ns, O_RDONLY));
  Result<void> result;
  // A thread of its own: setns(CLONE_NEWNET) moves only the calling thread, which
  // ends right after.
  std::thread worker([&] {
    if (::setns(fd.get(), CLONE_NEWNET) != 0) {
      result = Error::Errno("setns", ns);
      return;
    }
    ChildStatus status = ConfigureEth0(plan);
    if (!status.ok())
      result = Error(std::string(status.op) + " " + status.arg + " (in " + ns +
                         "): " + std::strerror(status.err),
                     status.err);
  });
  worker.join();
  return result;
}

Result<harness::Fd> MakeNetworkNamespace() {
  Result<harness::Fd> made = Error("network namespace not made", EIO);
  // A thread of its own unshares, so that no other harness thread changes namespace;
  // the descriptor keeps the namespace when the thread ends.
  std::thread worker([&made] {
    if (::unshare(CLONE_NEWNET) != 0) {
      made = Error::Errno("unshare", "CLONE_NEWNET");
      return;
    }
    ChildStatus up = BringUpLoopback(true);
    if (!up.ok()) {
      made = Error(std::string(up.op) + " " + up.arg + ": " + std::strerror(up.err), up.err);
      return;
    }
    auto fd = harness::Open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (!fd.ok()) {
      made = std::move(fd).error();
      return;
    }
    // Numbered >= 10: the child's dup2() onto 0..3 must never overwrite it.
    int high = ::fcntl(fd->get(), F_DUPFD_CLOEXEC, 10);
    if (high < 0) {
      made = Error::Errno("fcntl F_DUPFD_CLOEXEC", "network namespace");
      return;
    }
    made = harness::Fd(high);
  });
  worker.join();
  return made;
}

}  // namespace isobench::container
