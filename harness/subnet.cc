#include "harness/subnet.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdlib>

namespace isobench::harness {

uint32_t BridgeSubnet::HostCount() const {
  // Less the network, the host's address and the broadcast; link names carry 4 hex
  // digits.
  uint32_t size = 1u << (32 - prefix);
  return std::min<uint32_t>(size - 3, 0xffff - 2);
}

Result<BridgeSubnet> ParseBridgeSubnet(const std::string& cidr) {
  auto bad = [&](const std::string& why) {
    return Error("bridge subnet `" + cidr + "`: " + why, EINVAL);
  };
  size_t slash = cidr.find('/');
  if (slash == std::string::npos) return bad("not an IPv4 network with a prefix (10.203.0.0/16)");
  struct in_addr in;
  if (::inet_pton(AF_INET, cidr.substr(0, slash).c_str(), &in) != 1)
    return bad("not an IPv4 address before the `/`");
  const std::string prefix_text = cidr.substr(slash + 1);
  char* end = nullptr;
  long prefix = std::strtol(prefix_text.c_str(), &end, 10);
  if (prefix_text.empty() || *end != '\0' || prefix < 16 || prefix > 24)
    return bad("the prefix must be 16 to 24 (room for instances, and a /16 at most)");
  uint32_t network = ntohl(in.s_addr);
  uint32_t mask = ~0u << (32 - prefix);
  if (network & ~mask) return bad("host bits are set (the network of it is not itself)");
  bool rfc1918 = (network >> 24) == 10 || (network >> 20) == ((172u << 4) | 1) ||
                 (network >> 16) == ((192u << 8) | 168);
  if (!rfc1918) return bad("not a private network (10/8, 172.16/12, 192.168/16)");
  BridgeSubnet s;
  s.network = network;
  s.prefix = static_cast<int>(prefix);
  s.cidr = cidr;
  struct in_addr host = {htonl(network + 1)};
  char text[INET_ADDRSTRLEN];
  ::inet_ntop(AF_INET, &host, text, sizeof text);
  s.host_address = text;
  return s;
}

namespace {
BridgeSubnet& MutableSubnet() {
  static BridgeSubnet subnet;
  return subnet;
}

bool Overlaps(uint32_t a, int a_prefix, uint32_t b, int b_prefix) {
  int p = std::min(a_prefix, b_prefix);
  uint32_t mask = p == 0 ? 0 : ~0u << (32 - p);
  return (a & mask) == (b & mask);
}
}  // namespace

const BridgeSubnet& CurrentBridgeSubnet() { return MutableSubnet(); }

namespace {
BridgeSubnet& MutableDockerSubnet() {
  static BridgeSubnet subnet = *ParseBridgeSubnet("10.204.0.0/16");
  return subnet;
}
}  // namespace

const BridgeSubnet& CurrentDockerSubnet() { return MutableDockerSubnet(); }

Result<void> SetDockerSubnet(const std::string& cidr) {
  ISO_ASSIGN_OR_RETURN(BridgeSubnet s, ParseBridgeSubnet(cidr));
  MutableDockerSubnet() = s;
  return {};
}

bool SubnetsOverlap(const BridgeSubnet& a, const BridgeSubnet& b) {
  return Overlaps(a.network, a.prefix, b.network, b.prefix);
}

Result<void> SetBridgeSubnet(const std::string& cidr) {
  ISO_ASSIGN_OR_RETURN(BridgeSubnet s, ParseBridgeSubnet(cidr));
  MutableSubnet() = s;
  return {};
}

}  // namespace isobench::harness
