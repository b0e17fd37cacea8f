// Network probes (PROBES.md 6, 7, 43, and 46): only the profile's interfaces, none of
// the host's unix sockets, no host-only address reachable, and on a network shared with
// the host and other instances (network "bridge") none of its neighbours.
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
  add(
      46, "neighbours",
      "on a shared network: the host's other services and the other instances unreachable",
      "network",
      [](const Expectations& e) -> std::optional<std::string> {
        if (e.network != "bridge")
          return "the instance shares no network (network \"" + e.network + "\")";
        if (!e.switches.network_guard) return "the profile does not guard its network";
        return std::nullopt;
      },
      [](const Expectations& e, HostFacts& h) {
        // No targets when the suite could not set the neighbours up: the probe then
        // answers error, never pass.
        json targets = json::array();
        if (!e.gateway.empty())
          targets.push_back({{"address", e.gateway},
                             {"port", h.any_port()},
                             {"what", "host service on every address"}});
        if (!e.peer_address.empty())
          targets.push_back(
              {{"address", e.peer_address}, {"port", e.peer_port}, {"what", "peer instance"}});
        return json{{"targets", targets}};
      });
}

}  // namespace isobench::conformance::catalogue
