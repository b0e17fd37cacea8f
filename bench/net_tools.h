// The network family's tools: where they are, what their output means, and the facts of
// a link that every network figure is labelled with. Pure functions apart from
// WaitListening and LinkFacts, which read /proc and the host's links.
//
//   ISO_ASSIGN_OR_RETURN(StreamResult s, ParseIperf3(client_json));   // s.bits_per_second
//   ISO_ASSIGN_OR_RETURN(PingPongResult p, ParseSockperf(client_text));  // p.p99_seconds
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "harness/child_process.h"
#include "harness/error.h"

namespace isobench::bench {

inline constexpr const char* kIperf3 = "/usr/bin/iperf3";
inline constexpr const char* kSockperf = "/usr/bin/sockperf";
// tcp_crr: wrk, one connection at a time with "Connection: close", against lighttpd.
inline constexpr const char* kWrk = "/usr/bin/wrk";
inline constexpr const char* kLighttpd = "/usr/sbin/lighttpd";

// Empty when iperf3 and sockperf (and, when `workloads` has tcp_crr, wrk and lighttpd)
// are installed; else what is missing and the package to install.
std::string MissingNetTools(const std::vector<std::string>& workloads = {});

// lighttpd's configuration for tcp_crr: one static file under `root`, served on
// address:port, every connection closed after its one response, no module, no log.
std::string LighttpdConfig(const std::string& root, const std::string& address, int port);
// The file it serves (64 bytes) and its URL path.
inline constexpr const char* kCrrFile = "crr";
std::string CrrFileContent();

struct ConnectResult {
  double transactions_per_second = 0;       // connect + request + response + close, one at a time
  double p50_seconds = 0, p99_seconds = 0;  // wrk's request -> response (without the connect)
  int64_t transactions = 0;
};
// wrk --latency output. Any socket error or non-2xx response is an error: a connection
// refused or reset would otherwise count as a fast transaction.
harness::Result<ConnectResult> ParseWrk(const std::string& text);

struct StreamResult {
  double bits_per_second = 0;  // as received (iperf3's end.sum_received)
  int64_t retransmits = 0;     // the sender's TCP retransmissions
  double cpu_sender_percent = 0, cpu_receiver_percent = 0;
};
// iperf3 --json of the client. An error names what is missing or iperf3's own error.
harness::Result<StreamResult> ParseIperf3(const std::string& json_text);

struct PingPongResult {
  double p50_seconds = 0, p99_seconds = 0, mean_seconds = 0;  // round trips (--full-rtt)
  double transactions_per_second = 0;                         // received replies / run time
};
// sockperf ping-pong --full-rtt output (its text summary).
harness::Result<PingPongResult> ParseSockperf(const std::string& text);

// Reads "/proc/net/tcp" or "/proc/net/udp" of some network namespace: the host's by
// default, an instance's through its agent.
using ProcNetReader = std::function<harness::Result<std::string>(const std::string& table)>;
harness::Result<std::string> ReadHostProcNet(const std::string& table);

// Waits until the iperf3 server (TCP `iperf3_port`) and the sockperf servers (TCP and UDP
// `sockperf_port`) listen on `address`, reading /proc/net/{tcp,udp}; ETIMEDOUT naming
// the one that does not.
// Waits until a TCP socket listens on address:port.
harness::Result<void> WaitTcpListening(const std::string& address, int port,
                                       std::chrono::milliseconds timeout,
                                       const ProcNetReader& read = ReadHostProcNet);
harness::Result<void> WaitListening(const std::string& address, int iperf3_port, int sockperf_port,
                                    std::chrono::milliseconds timeout,
                                    const ProcNetReader& read = ReadHostProcNet);

// A family's servers on one host address, e.g. iperf3 bound to the bridge's address:
// while they live their ports are open on the bridge's guard (harness/bridge_guard.h),
// each is a child of the harness that dies with it, its output discarded. ClosePorts()
// (also done by the destructor) closes the ports; the children are killed and reaped
// as the object goes.
//
//   HostServers s;
//   ISO_RETURN_IF_ERROR(s.OpenPorts("isobench0", {{"tcp", 5201}}, "Net"));
//   ISO_RETURN_IF_ERROR(s.Spawn({kIperf3, "--server", "--bind", address}));
class HostServers {
 public:
  HostServers() = default;
  HostServers(HostServers&&) = default;
  HostServers& operator=(HostServers&&) = default;
  ~HostServers() { ClosePorts(); }

  // Opens each (protocol, port) on `bridge`'s guard; an empty bridge (loopback) has none.
  // `family` names the family in what ClosePorts prints.
  harness::Result<void> OpenPorts(const std::string& bridge,
                                  std::vector<std::pair<std::string, int>> ports,
                                  const std::string& family);
  // Starts one server; the error names argv[0].
  harness::Result<void> Spawn(const std::vector<std::string>& argv);
  // Closes the ports opened (a failure is printed: the guard table goes with the bridge).
  void ClosePorts();

  // Non-empty: they could not all be started; every row on them fails with it.
  std::string error;

 private:
  std::string bridge_;
  std::vector<std::pair<std::string, int>> ports_;
  std::string family_;
  std::vector<harness::ChildProcess> children_;
};

// "mtu 1500, tso on, gso on, gro on, tx-csum on, queues 1 rx/1 tx, master isobench0":
// what a link of this host is, for the record; a fact it cannot read is left out.
std::string LinkFacts(const std::string& link);

}  // namespace isobench::bench
