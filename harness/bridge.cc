#include "harness/bridge.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <linux/if.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <memory>
#include <random>
#include <sstream>

#include "harness/bridge_guard.h"
#include "harness/fd.h"
#include "harness/netlink.h"

namespace isobench::harness {

Result<NlSock> ConnectRoute() {
  NlSock sock(nl_socket_alloc());
  if (!sock) return Error("nl_socket_alloc failed", ENOMEM);
  int err = nl_connect(sock.get(), NETLINK_ROUTE);
  if (err < 0) return Error(std::string("netlink connect: ") + nl_geterror(err), EIO);
  return sock;
}

Error NlError(int err, const std::string& what) {
  return Error(what + ": " + nl_geterror(err), EIO);
}

Result<void> ConfineLink(const std::string& link) {
  if (link.empty() || link.find('/') != std::string::npos || link.find("..") != std::string::npos)
    return Error("not a link name: `" + link + "`", EINVAL);
  const std::string v4 = "/proc/sys/net/ipv4/conf/" + link + "/forwarding";
  ISO_RETURN_IF_ERROR(WriteFile(v4, "0"));
  const std::string v6 = "/proc/sys/net/ipv6/conf/" + link + "/disable_ipv6";
  if (::access(v6.c_str(), F_OK) == 0) ISO_RETURN_IF_ERROR(WriteFile(v6, "1"));
  return {};
}

bool LinkExists(const std::string& name) {
  return ::access(("/sys/class/net/" + name).c_str(), F_OK) == 0;
}

namespace {
bool Overlaps(uint32_t a, int a_prefix, uint32_t b, int b_prefix) {
  int p = std::min(a_prefix, b_prefix);
  uint32_t mask = p == 0 ? 0 : ~0u << (32 - p);
  return (a & mask) == (b & mask);
}

std::string Dotted(uint32_t host_order, int prefix) {
  struct in_addr in = {htonl(host_order)};
  char text[INET_ADDRSTRLEN];
  ::inet_ntop(AF_INET, &in, text, sizeof text);
  return std::string(text) + "/" + std::to_string(prefix);
}
}  // namespace

Result<void> CheckSubnetIsFree(const BridgeSubnet& subnet) {
  const std::string hint =
      " (choose another range with `subnet` in the suite file's [net] section)";
  // Addresses: a network the host is on.
  struct ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return Error::Errno("getifaddrs");
  std::unique_ptr<struct ifaddrs, void (*)(struct ifaddrs*)> owner(list, ::freeifaddrs);
  for (struct ifaddrs* a = list; a; a = a->ifa_next) {
    if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET || !a->ifa_netmask) continue;
    if (std::string(a->ifa_name) == kBridgeName) continue;
    uint32_t addr = ntohl(reinterpret_cast<struct sockaddr_in*>(a->ifa_addr)->sin_addr.s_addr);
    uint32_t mask = ntohl(reinterpret_cast<struct sockaddr_in*>(a->ifa_netmask)->sin_addr.s_addr);
    int prefix = __builtin_popcount(mask);
    if (prefix > 0 && Overlaps(addr & mask, prefix, subnet.network, subnet.prefix))
      return Error("the bridge subnet " + subnet.cidr + " overlaps " + Dotted(addr & mask, prefix) +
                       " on the host's `" + a->ifa_name + "`" + hint,
                   EADDRINUSE);
  }
  // Routes (a VPN's, a static one), but the default route and the bridge's own.
  ISO_ASSIGN_OR_RETURN(std::string routes, ReadFile("/proc/net/route"));
  std::istringstream in(routes);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string iface, dest, gateway, flags, refcnt, use, metric, mask;
    fields >> iface >> dest >> gateway >> flags >> refcnt >> use >> metric >> mask;
    if (iface.empty() || iface == kBridgeName) continue;
    // Little-endian hex of the network-order value.
    uint32_t d = ntohl(static_cast<uint32_t>(std::strtoul(dest.c_str(), nullptr, 16)));
    uint32_t m = ntohl(static_cast<uint32_t>(std::strtoul(mask.c_str(), nullptr, 16)));
    int prefix = __builtin_popcount(m);
    if (prefix == 0) continue;
    if (Overlaps(d, prefix, subnet.network, subnet.prefix))
      return Error("the bridge subnet " + subnet.cidr + " overlaps the host's route to " +
                       Dotted(d, prefix) + " via `" + iface + "`" + hint,
                   EADDRINUSE);
  }
  return {};
}

Result<BridgeSlot> PlanBridgeSlot(const char* prefix) {
  static std::atomic<uint32_t> counter{0};
  static const uint32_t base = [] {
    std::random_device rd;
    return rd() % 60000;
  }();
  for (int attempt = 0; attempt < 64; ++attempt) {
    // Hosts network + 2 .. ; network + 1 is the bridge.
    const BridgeSubnet& subnet = CurrentBridgeSubnet();
    uint32_t n = 2 + (base + counter++) % subnet.HostCount();
    char veth[IFNAMSIZ], tap[IFNAMSIZ], name[IFNAMSIZ];
    std::snprintf(veth, sizeof veth, "%s%04x", kVethPrefix, n);
    std::snprintf(tap, sizeof tap, "%s%04x", kTapPrefix, n);
    if (LinkExists(veth) || LinkExists(tap)) continue;
    std::snprintf(name, sizeof name, "%s%04x", prefix, n);
    BridgeSlot slot;
    slot.link_name = name;
    slot.address_host_order = subnet.network + n;
    struct in_addr in = {htonl(slot.address_host_order)};
    char text[INET_ADDRSTRLEN];
    ::inet_ntop(AF_INET, &in, text, sizeof text);
    slot.address = text;
    return slot;
  }
  return Error("no free link name/address in " + CurrentBridgeSubnet().cidr + " after 64 tries",
               EADDRINUSE);
}

namespace {
Result<void> CheckBridgeAddress(const BridgeSubnet& subnet) {
  struct ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return Error::Errno("getifaddrs");
  std::unique_ptr<struct ifaddrs, void (*)(struct ifaddrs*)> owner(list, ::freeifaddrs);
  std::string found;
  for (struct ifaddrs* a = list; a; a = a->ifa_next) {
    if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET || !a->ifa_netmask) continue;
    if (std::string(a->ifa_name) != kBridgeName) continue;
    uint32_t addr = ntohl(reinterpret_cast<struct sockaddr_in*>(a->ifa_addr)->sin_addr.s_addr);
    int prefix = __builtin_popcount(
        ntohl(reinterpret_cast<struct sockaddr_in*>(a->ifa_netmask)->sin_addr.s_addr));
    if (addr == subnet.network + 1 && prefix == subnet.prefix) return {};
    found += (found.empty() ? "" : ", ") + Dotted(addr, prefix);
  }
  if (found.empty()) return {};  // the kernel has not listed it yet
  return Error(std::string("bridge `") + kBridgeName + "` exists with " + found +
                   " (another run's), not this run's subnet " + subnet.cidr,
               EADDRINUSE);
}
}  // namespace

Result<int> EnsureBridge() {
  const BridgeSubnet& subnet = CurrentBridgeSubnet();
  ISO_RETURN_IF_ERROR(CheckSubnetIsFree(subnet));
  ISO_ASSIGN_OR_RETURN(NlSock sock, ConnectRoute());
  if (!LinkExists(kBridgeName)) {
    // A MAC address of its own, set at creation: a bridge without one takes the lowest
    // of its ports', so when that port's instance goes the host's address moves to
    // another MAC, and every other instance, whose ARP entry still names the old one,
    // loses the host until the entry expires (here: a runc instance went unreachable
    // for 30 s after the native container beside it was destroyed).
    NlLink bridge(rtnl_link_alloc());
    if (!bridge) return Error("rtnl_link_alloc failed", ENOMEM);
    rtnl_link_set_name(bridge.get(), kBridgeName);
    int err = rtnl_link_set_type(bridge.get(), "bridge");
    if (err < 0) return NlError(err, "bridge link type");
    std::random_device rd;
    unsigned char mac[6];
    for (unsigned char& b : mac) b = static_cast<unsigned char>(rd());
    mac[0] = static_cast<unsigned char>((mac[0] & 0xfe) | 0x02);  // unicast, locally administered
    struct nl_addr* lladdr = nl_addr_build(AF_LLC, mac, sizeof mac);
    rtnl_link_set_addr(bridge.get(), lladdr);
    nl_addr_put(lladdr);
    err = rtnl_link_add(sock.get(), bridge.get(), NLM_F_CREATE | NLM_F_EXCL);
    if (err < 0 && err != -NLE_EXIST)
      return NlError(err, std::string("create bridge `") + kBridgeName + "`");
  }
  struct rtnl_link* raw = nullptr;
  int err = rtnl_link_get_kernel(sock.get(), 0, kBridgeName, &raw);
  if (err < 0) return NlError(err, std::string("look up bridge `") + kBridgeName + "`");
  NlLink bridge(raw);
  int ifindex = rtnl_link_get_ifindex(bridge.get());
  // Before it is up and at every use: a later write of net.ipv4.ip_forward (a daemon
  // starting) sets every interface's forwarding again.
  ISO_RETURN_IF_ERROR(ConfineLink(kBridgeName));
  // Before any port joins it: the host's services are out of its instances' reach
  // (bridge_guard.h).
  ISO_RETURN_IF_ERROR(GuardBridge(kBridgeName));
  if (!(rtnl_link_get_flags(bridge.get()) & IFF_UP)) {
    NlLink change(rtnl_link_alloc());
    rtnl_link_set_flags(change.get(), IFF_UP);
    err = rtnl_link_change(sock.get(), bridge.get(), change.get(), 0);
    if (err < 0) return NlError(err, std::string("set `") + kBridgeName + "` up");
    struct rtnl_addr* addr = rtnl_addr_alloc();
    struct nl_addr* local = nullptr;
    std::string cidr = subnet.host_address + "/" + std::to_string(subnet.prefix);
    nl_addr_parse(cidr.c_str(), AF_INET, &local);
    rtnl_addr_set_ifindex(addr, ifindex);
    rtnl_addr_set_local(addr, local);
    err = rtnl_addr_add(sock.get(), addr, 0);
    nl_addr_put(local);
    rtnl_addr_put(addr);
    if (err < 0 && err != -NLE_EXIST) return NlError(err, "address " + cidr + " on " + kBridgeName);
  }
  // A bridge another run made (and still uses) with another subnet.
  ISO_RETURN_IF_ERROR(CheckBridgeAddress(subnet));
  return ifindex;
}

Result<int> RemoveIdleBridge() {
  // Ports need no reclaiming: a veth goes when its instance's network namespace dies,
  // a tap when its qemu exits.
  if (!LinkExists(kBridgeName)) {
    ISO_RETURN_IF_ERROR(UnguardBridge(kBridgeName));
    return 0;
  }
  auto ports = ListDir(std::string("/sys/class/net/") + kBridgeName + "/brif");
  if (ports.ok() && !ports->empty()) return 0;  // an instance still uses it
  ISO_ASSIGN_OR_RETURN(NlSock sock, ConnectRoute());
  NlLink l(rtnl_link_alloc());
  rtnl_link_set_name(l.get(), kBridgeName);
  int err = rtnl_link_delete(sock.get(), l.get());
  if (err < 0 && err != -NLE_NODEV && err != -NLE_OBJ_NOTFOUND)
    return NlError(err, std::string("delete bridge `") + kBridgeName + "`");
  ISO_RETURN_IF_ERROR(UnguardBridge(kBridgeName));
  return err < 0 ? 0 : 1;
}

}  // namespace isobench::harness
