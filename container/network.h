// Networking of an instance.
//
// "none" (the default): a private network namespace whose loopback the child brings up
// with one ioctl. "bridge": additionally a veth pair, its host end attached to the
// host's benchmark bridge (harness/bridge.h: `isobench0`, 10.203.0.1/16, created on
// first use, nothing routed off the host), its other end moved into the instance's
// namespace as eth0, where the child gives it the instance's address (the subnet's
// route, no default route). Links are made over rtnetlink with libnl-route.
//
//   ISO_RETURN_IF_ERROR(ValidateNetwork(spec.network, profile.net_ns));
//   ISO_ASSIGN_OR_RETURN(VethPlan veth, PlanVeth());          // parent, before clone
//   ISO_ASSIGN_OR_RETURN(VethLink link, VethLink::Create(veth, child_pid));  // after clone
//   // child, in its new network namespace, after the parent said go:
//   CHILD_RETURN_IF_ERROR(BringUpLoopback(profile.net_ns));
//   CHILD_RETURN_IF_ERROR(ConfigureEth0(veth));
#pragma once

#include <netinet/in.h>
#include <sys/types.h>

#include <string>

#include "container/child_status.h"
#include "harness/bridge.h"
#include "harness/fd.h"

namespace isobench::container {

using harness::kBridgeAddress;
using harness::kBridgeName;
using harness::kBridgePrefix;
using harness::kVethPrefix;
using harness::RemoveIdleBridge;

Result<void> ValidateNetwork(const std::string& network, bool net_ns);

// Child: SIOCSIFFLAGS IFF_UP on "lo" when the child has its own network namespace
// (never touches the host's interfaces).
ChildStatus BringUpLoopback(bool net_ns);

// A new network namespace with its loopback up, held by the returned descriptor
// (close-on-exec, numbered >= 10): what the netns pool (container.netns_pool) makes
// ahead of time. A child given one joins it with setns() instead of CLONE_NEWNET.
Result<harness::Fd> MakeNetworkNamespace();

struct VethPlan {
  bool enabled = false;
  std::string host_name;                       // "isbv<hex>", at most 15 characters
  std::string address;                         // the instance's IPv4 address, dotted
  struct sockaddr_in addr = {}, netmask = {};  // preformatted for the child
  bool guard = true;                           // SecurityProfile::network_guard
};

// Picks a host-end name and an address in 10.203.0.0/16 not used by a live link.
// `guard`: the profile's network_guard (harness/bridge_guard.h).
Result<VethPlan> PlanVeth(bool guard = true);

// Host side of one instance's veth pair. The destructor deletes the host end (the
// kernel removes the peer with it); a pair whose namespace died is already gone.
class VethLink {
 public:
  VethLink() = default;
  // Creates the bridge if needed, the pair with the peer inside `child_pid`'s network
  // namespace as eth0, the host end attached to the bridge and up: an isolated port
  // whose address the bridge's guard covers, or, without plan.guard, an exempt one
  // (which Delete makes guarded again).
  static Result<VethLink> Create(const VethPlan& plan, pid_t child_pid);
  VethLink(VethLink&& other) noexcept
      : name_(std::move(other.name_)), exempt_(std::move(other.exempt_)) {
    other.name_.clear();
    other.exempt_.clear();
  }
  VethLink& operator=(VethLink&& other) noexcept;
  ~VethLink();
  Result<void> Delete();
  const std::string& name() const { return name_; }

 private:
  explicit VethLink(std::string name) : name_(std::move(name)) {}
  std::string name_;
  std::string exempt_;  // the address exempted from the bridge's guard, if any
};

// Child: address, netmask (the subnet's route) and up, on eth0. No default route:
// the instance reaches the bridge's subnet and nothing else.
ChildStatus ConfigureEth0(const VethPlan& plan);

// Host: ConfigureEth0 inside `pid`'s network namespace, from a helper thread that
// enters it (setns), for a container an external runtime made (runc: after `create`,
// before `start`, as a CNI plugin would).
Result<void> ConfigureEth0Of(pid_t pid, const VethPlan& plan);

}  // namespace isobench::container
