#include "container/network.h"

#include <arpa/inet.h>
#include <linux/if.h>
#include <net/route.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/link/veth.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <random>

#include "harness/fd.h"
#include "harness/log.h"

namespace isobench::container {
namespace {

struct SockDeleter {
  void operator()(struct nl_sock* s) const { nl_socket_free(s); }
};
struct LinkDeleter {
  void operator()(struct rtnl_link* l) const { rtnl_link_put(l); }
};
using NlSock = std::unique_ptr<struct nl_sock, SockDeleter>;
using NlLink = std::unique_ptr<struct rtnl_link, LinkDeleter>;

Result<NlSock> Connect() {
  NlSock sock(nl_socket_alloc());
  if (!sock) return Error("nl_socket_alloc failed", ENOMEM);
  int err = nl_connect(sock.get(), NETLINK_ROUTE);
  if (err < 0) return Error(std::string("netlink connect: ") + nl_geterror(err), EIO);
  return sock;
}

Error NlError(int err, const std::string& what) {
  return Error(what + ": " + nl_geterror(err), EIO);
}

bool LinkExists(const std::string& name) {
  return ::access(("/sys/class/net/" + name).c_str(), F_OK) == 0;
}

Result<int> EnsureBridge(struct nl_sock* sock) {
  if (!LinkExists(kBridgeName)) {
    int err = rtnl_link_bridge_add(sock, kBridgeName);
    if (err < 0 && err != -NLE_EXIST)
      return NlError(err, std::string("create bridge `") + kBridgeName + "`");
  }
  struct rtnl_link* raw = nullptr;
  int err = rtnl_link_get_kernel(sock, 0, kBridgeName, &raw);
  if (err < 0) return NlError(err, std::string("look up bridge `") + kBridgeName + "`");
  NlLink bridge(raw);
  int ifindex = rtnl_link_get_ifindex(bridge.get());
  if (!(rtnl_link_get_flags(bridge.get()) & IFF_UP)) {
    NlLink change(rtnl_link_alloc());
    rtnl_link_set_flags(change.get(), IFF_UP);
    err = rtnl_link_change(sock, bridge.get(), change.get(), 0);
    if (err < 0) return NlError(err, std::string("set `") + kBridgeName + "` up");
    struct rtnl_addr* addr = rtnl_addr_alloc();
    struct nl_addr* local = nullptr;
    std::string cidr = std::string(kBridgeAddress) + "/" + std::to_string(kBridgePrefix);
    nl_addr_parse(cidr.c_str(), AF_INET, &local);
    rtnl_addr_set_ifindex(addr, ifindex);
    rtnl_addr_set_local(addr, local);
    err = rtnl_addr_add(sock, addr, 0);
    nl_addr_put(local);
    rtnl_addr_put(addr);
    if (err < 0 && err != -NLE_EXIST) return NlError(err, "address " + cidr + " on " + kBridgeName);
  }
  return ifindex;
}

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

Result<VethPlan> PlanVeth() {
  static std::atomic<uint32_t> counter{0};
  static const uint32_t base = [] {
    std::random_device rd;
    return rd() % 60000;
  }();
  VethPlan plan;
  plan.enabled = true;
  for (int attempt = 0; attempt < 64; ++attempt) {
    // Hosts 10.203.0.2 .. 10.203.255.254; .0.1 is the bridge.
    uint32_t n = 2 + (base + counter++) % 65000;
    char name[IFNAMSIZ];
    std::snprintf(name, sizeof name, "%s%04x", kVethPrefix, n);
    if (LinkExists(name)) continue;
    plan.host_name = name;
    uint32_t address = (10u << 24) | (203u << 16) | n;
    plan.addr = Inet(address);
    plan.netmask = Inet(~0u << (32 - kBridgePrefix));
    plan.gateway = Inet((10u << 24) | (203u << 16) | 1);
    char text[INET_ADDRSTRLEN];
    ::inet_ntop(AF_INET, &plan.addr.sin_addr, text, sizeof text);
    plan.address = text;
    return plan;
  }
  return Error("no free veth name/address in 10.203.0.0/16 after 64 tries", EADDRINUSE);
}

Result<VethLink> VethLink::Create(const VethPlan& plan, pid_t child_pid) {
  ISO_ASSIGN_OR_RETURN(NlSock sock, Connect());
  ISO_ASSIGN_OR_RETURN(int bridge, EnsureBridge(sock.get()));
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
  return VethLink(plan.host_name);
}

VethLink& VethLink::operator=(VethLink&& other) noexcept {
  if (this != &other) {
    (void)Delete();
    name_ = std::move(other.name_);
    other.name_.clear();
  }
  return *this;
}

VethLink::~VethLink() {
  auto r = Delete();
  if (!r.ok()) ISO_LOG(kWarning) << r.error().message();
}

Result<void> VethLink::Delete() {
  if (name_.empty()) return {};
  std::string name = std::move(name_);
  name_.clear();
  if (!LinkExists(name)) return {};  // went with the instance's namespace
  ISO_ASSIGN_OR_RETURN(NlSock sock, Connect());
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
  struct rtentry route;
  std::memset(&route, 0, sizeof route);
  struct sockaddr_in any = {};
  any.sin_family = AF_INET;
  std::memcpy(&route.rt_dst, &any, sizeof any);
  std::memcpy(&route.rt_genmask, &any, sizeof any);
  std::memcpy(&route.rt_gateway, &plan.gateway, sizeof plan.gateway);
  route.rt_flags = RTF_UP | RTF_GATEWAY;
  if (status.ok() && ::ioctl(fd, SIOCADDRT, &route) != 0)
    status = ChildStatus::Errno("ioctl SIOCADDRT", "default via bridge");
  ::close(fd);
  return status;
}

Result<int> RemoveIdleBridge() {
  // Host ends need no reclaiming: when an instance's network namespace dies (its init
  // is killed, here or by the reclaim of a crashed run) the kernel destroys the pair.
  if (!LinkExists(kBridgeName)) return 0;
  auto ports = harness::ListDir(std::string("/sys/class/net/") + kBridgeName + "/brif");
  if (ports.ok() && !ports->empty()) return 0;  // an instance still uses it
  ISO_ASSIGN_OR_RETURN(NlSock sock, Connect());
  NlLink l(rtnl_link_alloc());
  rtnl_link_set_name(l.get(), kBridgeName);
  int err = rtnl_link_delete(sock.get(), l.get());
  if (err < 0 && err != -NLE_NODEV && err != -NLE_OBJ_NOTFOUND)
    return NlError(err, std::string("delete bridge `") + kBridgeName + "`");
  return err < 0 ? 0 : 1;
}

}  // namespace isobench::container
