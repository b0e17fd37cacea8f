// rtnetlink through libnl-route, for the files that make links (harness/bridge.cc,
// container/network.cc): owning handles and an error that names the step.
//
//   ISO_ASSIGN_OR_RETURN(NlSock sock, ConnectRoute());
//   NlLink link(rtnl_link_alloc());
//   if (int err = rtnl_link_add(sock.get(), link.get(), NLM_F_CREATE); err < 0)
//     return NlError(err, "create link");
#pragma once

#include <netlink/netlink.h>
#include <netlink/route/link.h>

#include <memory>
#include <string>

#include "harness/error.h"

namespace isobench::harness {

struct NlSockDeleter {
  void operator()(struct nl_sock* s) const { nl_socket_free(s); }
};
struct NlLinkDeleter {
  void operator()(struct rtnl_link* l) const { rtnl_link_put(l); }
};
using NlSock = std::unique_ptr<struct nl_sock, NlSockDeleter>;
using NlLink = std::unique_ptr<struct rtnl_link, NlLinkDeleter>;

// A NETLINK_ROUTE socket.
Result<NlSock> ConnectRoute();

// "<what>: <libnl's words>" (EIO).
Error NlError(int err, const std::string& what);

}  // namespace isobench::harness
