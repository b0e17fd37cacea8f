// Network probes (PROBES.md 6, 7, 43, and 46): interfaces, the unix sockets the kernel
// lists, addresses only the host should reach, and on a shared network its neighbours.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <set>
#include <sstream>
#include <stdexcept>

#include "harness/agent/agent.h"
#include "harness/agent/agent_probes.h"

namespace isobench::agent {
namespace {

std::string Joined(const std::vector<std::string>& items) {
  std::string list;
  for (const auto& i : items) list += (list.empty() ? "" : ", ") + i;
  return list;
}

std::vector<std::string> Interfaces() {
  std::vector<std::string> names;
  int n = 0;
  for (const auto& line : SplitLines(ReadSmallFile("/proc/net/dev"))) {
    if (n++ < 2) continue;  // two header lines
    size_t colon = line.find(':');
    if (colon != std::string::npos) names.push_back(Trim(line.substr(0, colon)));
  }
  return names;
}

// 6: only the loopback interface (and what the profile assigns) exists.
Outcome ProbeInterfaces(const json& params) {
  std::set<std::string> allowed;
  for (const auto& a : params.value("allowed", std::vector<std::string>{"lo"})) allowed.insert(a);
  std::vector<std::string> names = Interfaces();
  std::vector<std::string> extra;
  for (const auto& n : names)
    if (!allowed.count(n)) extra.push_back(n);
  json observed = {{"interfaces", names}};
  if (!extra.empty()) return Fail("interfaces beyond the profile's: " + Joined(extra), observed);
  return Pass("interfaces: " + Joined(names), observed);
}

// 7: /proc/net/unix lists no named socket of the host's (systemd, containerd,
// libvirt): those live in the host's network namespace. A named socket that is
// connected and not listening is the accepted end of a connection made from inside
// (the kernel creates it in the connecting side's namespace with the listener's name,
// net/unix/af_unix.c unix_stream_connect): a control channel over a bind-mounted
// socket looks like that, and it exposes nothing.
Outcome ProbeUnixSockets(const json&) {
  constexpr unsigned long kAcceptCon = 0x10000;  // __SO_ACCEPTCON: listening
  constexpr unsigned kConnected = 3;             // SS_CONNECTED
  std::vector<std::string> exposed, own_connections;
  int total = 0;
  int n = 0;
  for (const auto& line : SplitLines(ReadSmallFile("/proc/net/unix"))) {
    if (n++ == 0) continue;  // header
    ++total;
    // Num RefCount Protocol Flags Type St Inode [Path]
    std::istringstream in(line);
    std::string num, refcount, protocol, flags, type, state, inode, path;
    in >> num >> refcount >> protocol >> flags >> type >> state >> inode >> path;
    if (path.empty()) continue;
    bool listening = std::strtoul(flags.c_str(), nullptr, 16) & kAcceptCon;
    bool connected = std::strtoul(state.c_str(), nullptr, 16) == kConnected;
    if (connected && !listening)
      own_connections.push_back(path);
    else
      exposed.push_back(path);
  }
  json examples = json::array();
  for (size_t i = 0; i < exposed.size() && i < 10; ++i) examples.push_back(exposed[i]);
  json observed = {{"sockets", total},
                   {"named", exposed.size()},
                   {"examples", examples},
                   {"connections_from_inside", own_connections}};
  if (!exposed.empty())
    return Fail(
        std::to_string(exposed.size()) + " named unix socket(s) visible, e.g. " + exposed[0],
        observed);
  return Pass(std::to_string(total) +
                  " unix socket(s), none of them a named listening or bound one" +
                  (own_connections.empty()
                       ? std::string()
                       : " (" + std::to_string(own_connections.size()) +
                             " connection(s) made from inside, e.g. the control channel)"),
              observed);
}

// Non-blocking TCP connect with a timeout: "connected", "ECONNREFUSED", "timeout", ...
std::string TryConnect(const std::string& address, int port, int timeout_ms) {
  struct sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, address.c_str(), &addr.sin_addr) != 1) return "bad address";
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoName(errno);
  int r = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  std::string result;
  if (r == 0) {
    result = "connected";
  } else if (errno != EINPROGRESS) {
    result = ErrnoName(errno);
  } else {
    struct pollfd pfd = {fd, POLLOUT, 0};
    if (::poll(&pfd, 1, timeout_ms) <= 0) {
      result = "timeout";
    } else {
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      result = err == 0 ? "connected" : ErrnoName(err);
    }
  }
  ::close(fd);
  return result;
}

// Tries each target {"address", "port", "what"?} (keyed "[what ]address:port" in
// `observed`); returns the keys that connected.
std::vector<std::string> TryTargets(const json& targets, int timeout_ms, json* observed) {
  std::vector<std::string> reached;
  for (const auto& t : targets) {
    std::string address = t.at("address").get<std::string>();
    int port = t.at("port").get<int>();
    std::string key = address + ":" + std::to_string(port);
    if (t.contains("what")) key = t.at("what").get<std::string>() + " " + key;
    std::string result = TryConnect(address, port, timeout_ms);
    (*observed)[key] = result;
    if (result == "connected") reached.push_back(key);
  }
  return reached;
}

// 43: host-only addresses are unreachable: a listener the host opened on its loopback
// (also tried at 10.0.2.2, where user-mode networking forwards to the host), the cloud
// metadata address, and route_localnet is 0.
Outcome ProbeHostAddresses(const json& params) {
  json targets =
      params.value("targets", json::array({{{"address", "169.254.169.254"}, {"port", 80}}}));
  json observed = json::object();
  std::vector<std::string> reached =
      TryTargets(targets, params.value("timeout_ms", 300), &observed);
  std::string localnet = Trim(ReadSmallFile("/proc/sys/net/ipv4/conf/all/route_localnet"));
  observed["route_localnet"] = localnet;
  if (localnet == "1") reached.push_back("route_localnet=1");
  if (!reached.empty()) return Fail("host-only addresses reachable: " + Joined(reached), observed);
  return Pass(
      "no host-only address reachable; route_localnet " + (localnet.empty() ? "absent" : localnet),
      observed);
}

// 46: on a network shared with the host and other instances (network "bridge"), the
// host's services on its address there (`gateway` targets: a listener the host opened
// on every address) and another instance's listener (`peer` targets) are unreachable.
// Each target is {"address", "port", "what"}; a connection that completes is a fail.
Outcome ProbeNeighbours(const json& params) {
  json targets = params.value("targets", json::array());
  if (!targets.is_array() || targets.empty())
    return Undecided("no targets given (the suite passes the gateway's and a peer's listeners)");
  json observed = json::object();
  std::vector<std::string> reached =
      TryTargets(targets, params.value("timeout_ms", 1000), &observed);
  if (!reached.empty())
    return Fail("reachable on the shared network: " + Joined(reached), observed);
  std::vector<std::string> results;
  for (const auto& [key, result] : observed.items())
    results.push_back(key + " " + result.get<std::string>());
  return Pass("neither the host's other services nor a neighbour reachable: " + Joined(results),
              observed);
}

}  // namespace

json HandleListen(const json& request) {
  static std::vector<int> listeners;  // open until the agent exits
  if (listeners.size() >= 16) throw std::runtime_error("listen: 16 listeners are open already");
  int port = request.value("port", 0);
  if (port < 0 || port > 65535) throw std::runtime_error("listen: not a port");
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("listen: socket: " + ErrnoName(errno));
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 64) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::string why = ErrnoName(errno);
    ::close(fd);
    throw std::runtime_error("listen on port " + std::to_string(port) + ": " + why);
  }
  listeners.push_back(fd);
  return {{"port", ntohs(addr.sin_port)}};
}

void AddNetworkProbes(std::vector<ProbeDef>* probes) {
  probes->push_back({"interfaces", 6, Scope::kInstance, ProbeInterfaces});
  probes->push_back({"unix_sockets", 7, Scope::kInstance, ProbeUnixSockets});
  probes->push_back({"host_addresses", 43, Scope::kInstance, ProbeHostAddresses});
  probes->push_back({"neighbours", 46, Scope::kInstance, ProbeNeighbours});
}

}  // namespace isobench::agent
