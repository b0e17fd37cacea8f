// Network probes (PROBES.md 6, 7, 43): only the profile's interfaces, none of the
// host's unix sockets, no host-only address reachable.
#include "conformance/probes_catalogue.h"

namespace isobench::conformance::catalogue {

using json = nlohmann::json;

void AddNetworkProbes(Catalogue& add) {
  add(6, "interfaces", "only lo (and what the profile assigns)", "network",
      Needs(&S::net_ns, "a network namespace"), [](const Expectations& e, HostFacts&) {
        return json{{"allowed", e.interfaces}};
      });
  add(7, "unix_sockets", "/proc/net/unix shows none of the host's sockets", "network",
      Needs(&S::net_ns, "a network namespace"), NoParams);
  add(43, "host_addresses", "host loopback services, 169.254.169.254 unreachable; route_localnet 0",
      "network", Needs(&S::net_ns, "a network namespace"), [](const Expectations&, HostFacts& h) {
        int port = h.loopback_port();
        return json{{"targets", json::array({{{"address", "127.0.0.1"}, {"port", port}},
                                             {{"address", "10.0.2.2"}, {"port", port}},
                                             {{"address", "169.254.169.254"}, {"port", 80}}})}};
      });
}

}  // namespace isobench::conformance::catalogue
