// The IPv4 ranges of the networks isobench makes: the host bridge's (isobench0) and the
// one Docker's per-run networks take a /24 of. Chosen once per process (a suite file's
// net.subnet and net.docker_subnet), before any network is made. Pure: parsing and
// arithmetic, no system call.
//
//   ISO_RETURN_IF_ERROR(SetBridgeSubnet("192.168.77.0/24"));
//   CurrentBridgeSubnet().host_address;   // "192.168.77.1"
#pragma once

#include <cstdint>
#include <string>

#include "harness/error.h"

namespace isobench::harness {

// The bridge's IPv4 subnet: the host is its first address, instances the others.
struct BridgeSubnet {
  uint32_t network = (10u << 24) | (203u << 16);  // host order
  int prefix = 16;                                // 16..24
  std::string cidr = "10.203.0.0/16";
  std::string host_address = "10.203.0.1";
  // Instance addresses: network + 2 .. network + HostCount() + 1.
  uint32_t HostCount() const;
};
// "10.203.0.0/16": a private IPv4 network (RFC 1918) with a prefix of 16 to 24 and no
// host bits set; the error says which rule it breaks.
Result<BridgeSubnet> ParseBridgeSubnet(const std::string& cidr);
// The process's subnet (the default until SetBridgeSubnet).
const BridgeSubnet& CurrentBridgeSubnet();
// Chooses the subnet for this process, before any bridge is made.
Result<void> SetBridgeSubnet(const std::string& cidr);
// The range Docker's per-run networks take a /24 of (default 10.204.0.0/16; Docker
// itself refuses a /24 that overlaps a network or route of the host).
const BridgeSubnet& CurrentDockerSubnet();
Result<void> SetDockerSubnet(const std::string& cidr);
// Whether two subnets share an address.
bool SubnetsOverlap(const BridgeSubnet& a, const BridgeSubnet& b);

}  // namespace isobench::harness
