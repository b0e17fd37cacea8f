// The host's benchmark bridge: `isobench0`, 10.203.0.1/16, with no uplink. An instance
// with network "bridge" gets an address in 10.203.0.0/16 and a link on the bridge: a
// native container's or runc's veth host end (`isbv<hex>`), a VM's tap (`isbt<hex>`).
// The link name and the address come from one number, so a live link reserves its
// address and a crashed run's leftovers are recognisable by name.
//
// Traffic stays on this host: the bridge's IPv4 forwarding is off
// (net.ipv4.conf.isobench0.forwarding = 0), so nothing that arrives on it is routed off
// the host whatever the host's ip_forward; IPv6 is off on it; instances get the
// subnet's route and no default route; there is no NAT. The host's services are out of
// the instances' reach, and the instances out of each other's (bridge_guard.h).
//
//   ISO_ASSIGN_OR_RETURN(BridgeSlot slot, PlanBridgeSlot(kVethPrefix));
//   ISO_ASSIGN_OR_RETURN(int ifindex, EnsureBridge());
//   ...  // attach slot.link_name, give the instance slot.address
//   ISO_RETURN_IF_ERROR(RemoveIdleBridge());  // when the backend goes
#pragma once

#include <cstdint>
#include <string>

#include "harness/error.h"
#include "harness/subnet.h"

namespace isobench::harness {

inline constexpr const char* kBridgeName = "isobench0";
// The default subnet (a suite file's `net.subnet` may choose another, SetBridgeSubnet).
inline constexpr const char* kBridgeAddress = "10.203.0.1";
inline constexpr int kBridgePrefix = 16;
inline constexpr uint32_t kBridgeNetwork = (10u << 24) | (203u << 16);  // host order
inline constexpr const char* kVethPrefix = "isbv";
inline constexpr const char* kTapPrefix = "isbt";

// Whether `subnet` overlaps an IPv4 address or route of the host that is not the
// bridge's own (a LAN, a VPN): an address of ours there would shadow it. The error names
// the interface and the network, and the suite key that picks another range.
Result<void> CheckSubnetIsFree(const BridgeSubnet& subnet);

struct BridgeSlot {
  std::string link_name;  // "<prefix><4 hex digits>", at most 15 characters
  std::string address;    // the instance's IPv4 address, dotted
  uint32_t address_host_order = 0;
};

// A link name with `prefix` and the address of the same number in the current subnet
// (10.203.0.2 .. 10.203.253.255 in the default one), neither used by a live link of any
// isobench prefix.
Result<BridgeSlot> PlanBridgeSlot(const char* prefix);

// Creates the bridge if it is missing (up, its address, forwarding and IPv6 off) and
// its guard (GuardBridge, refreshed at every call); returns its ifindex. Refuses a
// subnet that overlaps one of the host's (CheckSubnetIsFree), and a bridge another run
// made with a different subnet.
Result<int> EnsureBridge();

// Deletes the bridge, and its guard, when no port is left on it. Returns 1 if it was
// deleted.
Result<int> RemoveIdleBridge();

bool LinkExists(const std::string& name);

// Keeps what arrives on `link` (a bridge of ours) on this host: its IPv4 forwarding
// off, IPv6 off. A later write of net.ipv4.ip_forward turns forwarding on again on
// every interface, so callers confine at every use, not once.
Result<void> ConfineLink(const std::string& link);

}  // namespace isobench::harness
