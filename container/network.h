// Networking of an instance. "none" (the only mode so far): a private network
// namespace whose loopback is brought up by the child with one ioctl, no `ip` helper.
//
//   ISO_RETURN_IF_ERROR(ValidateNetwork(spec.network));
//   // child, in its new network namespace:
//   CHILD_RETURN_IF_ERROR(BringUpLoopback(profile.net_ns));
#pragma once

#include <string>

#include "container/child_status.h"

namespace isobench::container {

Result<void> ValidateNetwork(const std::string& network);

// Child: SIOCSIFFLAGS IFF_UP on "lo" when the child has its own network namespace
// (never touches the host's interfaces).
ChildStatus BringUpLoopback(bool net_ns);

}  // namespace isobench::container
