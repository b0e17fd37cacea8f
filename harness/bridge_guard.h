// What an instance on a bridge of ours can reach: the host only at the ports the
// harness opened on purpose, and no other instance.
//
// The host. A service the host runs on every address (sshd on 0.0.0.0:22, a DNS cache,
// rpcbind) also answers on the bridge's own address, the instances' gateway. Each bridge
// gets an nftables table, `inet isobench_<bridge>`, whose input chain refuses what
// arrives on that bridge (a new TCP connection with a reset, UDP and every other
// protocol with an ICMP "administratively prohibited") unless its port was opened for a
// benchmark's servers (OpenGuardPort) or its source was exempted (an instance whose
// profile turns network_guard off). ICMP passes (a ping of the gateway), and so do TCP
// segments of connections the host made. The table is stateless: no connection
// tracking is loaded for it, so no packet of any path pays for it.
//
// The other instances. Each instance's port on the bridge (a veth's host end, a tap) is
// an isolated bridge port (IFLA_BRPORT_ISOLATED, Linux 4.18): the bridge forwards
// nothing between two isolated ports, while both still reach the host.
//
//   ISO_RETURN_IF_ERROR(GuardBridge("isobench0"));       // with the bridge, idempotent
//   ISO_RETURN_IF_ERROR(IsolateBridgePort("isbv0a1c"));  // each instance's port
//   ISO_RETURN_IF_ERROR(OpenGuardPort("isobench0", "tcp", 5201));  // a benchmark server
//   ISO_RETURN_IF_ERROR(UnguardBridge("isobench0"));     // with the bridge
//
// Every call is one nftables transaction (libnftables), idempotent, and safe against
// another harness doing the same at the same time.
#pragma once

#include <string>
#include <vector>

#include "harness/error.h"

namespace isobench::harness {

inline constexpr const char* kGuardTablePrefix = "isobench_";

// Creates or refreshes the guard table of `bridge` (its chain's rules are rewritten,
// its open ports and exemptions kept).
Result<void> GuardBridge(const std::string& bridge);
// Deletes the guard table of `bridge`, if any.
Result<void> UnguardBridge(const std::string& bridge);

// `protocol` "tcp" or "udp": that port on the host is reachable from the bridge.
Result<void> OpenGuardPort(const std::string& bridge, const std::string& protocol, int port);
Result<void> CloseGuardPort(const std::string& bridge, const std::string& protocol, int port);

// An instance whose profile does not guard its network: its address reaches every
// port of the host. Unexempt is called for every guarded instance too, so that an
// exemption a crashed run left behind never covers a later instance at its address.
Result<void> ExemptFromGuard(const std::string& bridge, const std::string& ipv4);
Result<void> UnexemptFromGuard(const std::string& bridge, const std::string& ipv4);

// The bridge port `link` forwards nothing to another isolated port (on = true), or
// everything (on = false).
Result<void> IsolateBridgePort(const std::string& link, bool on = true);

// One instance's port `link` with `address` on `bridge`, before the instance uses it:
// guarded (an isolated port, its address not exempt) or, without `guard`, exempt and
// not isolated.
Result<void> GuardInstancePort(const std::string& bridge, const std::string& link,
                               const std::string& address, bool guard);

// The bridge `link` is a port of ("isobench0"), from /sys/class/net/<link>/master; a
// bridge is its own.
Result<std::string> BridgeOf(const std::string& link);

// The bridges whose guard tables exist ("isobench0", "isbd01ff").
Result<std::vector<std::string>> GuardedBridges();
// Deletes the guard tables of bridges that no longer exist. Returns how many.
Result<int> ReclaimStaleGuards();

// Whether nftables can be used here (the kernel's nf_tables); the reason when not.
Result<void> GuardAvailable();

}  // namespace isobench::harness
