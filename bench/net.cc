// Network: the same workloads over every path, with Debian's iperf3 (one TCP stream,
// either direction) and sockperf (TCP and UDP ping-pong).
//
// Paths. `loopback`: the host talking to itself over 127.0.0.1, the floor. `host`: an
// instance talking to the host over the instance's own network (a native container's
// veth into the host's benchmark bridge, Docker's user-defined bridge network, a VM's
// virtio-net on a tap in the bridge). `peer`: the same instance talking to a second
// instance of its backend on that network, across the bridge. On `host` the servers run
// on the host, bound to the host's address on that path only (127.0.0.1, or the bridge's
// address): nothing is served on any other interface, the bridge routes nothing off the
// host (harness/bridge.h), and its guard opens to the instances only these servers'
// ports, while the family runs (harness/bridge_guard.h). On `peer` they run in the
// second instance, whose profile turns network_guard off: the bridge keeps two guarded
// instances apart. The client runs where the path starts: on the host for the floor,
// inside the instance otherwise, so the instance's side of every packet crosses its
// isolation (namespace, veth, bridge; or virtio, tap, bridge).
//
// Net/<backend>/<path>:<workload>. The manual time (lower is better, like every time of
// the suite) is, for a stream, the seconds one MiB takes (1 / throughput, as received),
// with bits_per_s, retransmits and both ends' CPU as counters; for a ping-pong, the
// median round trip, with p99, mean and transactions per second as counters. One
// record per round; Ratio/<backend>/Net:<path>:<workload>/vs:host divides by the
// floor's value of the same round.
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <thread>

#include "bench/families.h"
#include "bench/net_tools.h"
#include "bench/rounds.h"
#include "harness/bridge_guard.h"
#include "harness/child_process.h"
#include "harness/fd.h"
#include "harness/host_backend.h"
#include "harness/run_owner.h"

namespace isobench::bench {
namespace {

constexpr const char* kLoopback = "127.0.0.1";

// What one backend needs: its own image (with the tools), a backend made for that
// image, and one instance on its own network.
struct Rig {
  std::unique_ptr<harness::Backend> backend;
  std::unique_ptr<harness::Instance> instance;
  harness::NetworkEndpoint endpoint;
  std::string path;    // PathDescription(endpoint), read once the instance is up
  std::string bridge;  // the bridge the endpoint's link is on (its own, for Docker's)
  std::string error;
  // Path "peer": a second instance of the backend, running the servers. Its profile
  // turns network_guard off (an open bridge port): the bridge isolates two guarded
  // instances from each other (harness/bridge_guard.h).
  std::unique_ptr<harness::Instance> peer;
  harness::NetworkEndpoint peer_endpoint;
  std::string peer_path;
  std::string peer_error;
};

class NetFamily {
 public:
  explicit NetFamily(BenchSession& bench) : bench_(bench) {}

  // The floor: client and servers on the host, over loopback.
  void RunOnHost(benchmark::State& state, const std::string& workload, const std::string& run,
                 int round) {
    for (auto _ : state) {
      if (SkippedOnInterrupt(state)) break;
      const HostServers& servers = ServersOn(kLoopback);
      if (!servers.error.empty()) {
        state.SkipWithError(("host: " + servers.error).c_str());
        break;
      }
      auto out = RunClient(workload, kLoopback, [&](const std::vector<std::string>& argv) {
        return HostExec(argv, ClientTimeout());
      });
      if (!out.ok()) {
        state.SkipWithError(("host: " + out.error().message()).c_str());
        break;
      }
      Record(state, workload, *out, run, round, "host", "path=127.0.0.1 (" + LinkFacts("lo") + ")");
    }
  }

  // `path` "host": the client in the instance, the servers on the host; "peer": the
  // client in the instance, the servers in the backend's second instance.
  void RunInInstance(benchmark::State& state, const std::string& backend, const std::string& path,
                     const std::string& workload, const std::string& run, int round, bool last) {
    for (auto _ : state) {
      if (SkippedOnInterrupt(state)) break;
      Rig& rig = GetRig(backend);
      if (!rig.instance) {
        state.SkipWithError((backend + ": " + rig.error).c_str());
        break;
      }
      std::string server, description;
      if (path == "peer") {
        if (!StartPeer(backend, rig)) {
          state.SkipWithError((backend + ": peer: " + rig.peer_error).c_str());
          break;
        }
        server = rig.peer_endpoint.address;
        description = rig.peer_path;
      } else {
        const HostServers& servers = ServersOn(rig.endpoint.host_address, rig.bridge);
        if (!servers.error.empty()) {
          state.SkipWithError((backend + ": " + servers.error).c_str());
          break;
        }
        server = rig.endpoint.host_address;
        description = rig.path;
      }
      auto out = RunClient(workload, server, [&](const std::vector<std::string>& argv) {
        return rig.instance->Exec(argv, ClientTimeout());
      });
      if (!out.ok()) {
        state.SkipWithError((backend + ": " + out.error().message()).c_str());
        break;
      }
      Record(state, workload, *out, run, round, backend, "path=" + description, path == "peer");
    }
    if (last) ReleaseRig(backend);
  }

  std::shared_ptr<RoundBook> book() { return book_; }

  // What a path is, for the record: in every row's label and on stderr.
  static std::string PathDescription(const harness::NetworkEndpoint& e) {
    return e.address + " -> " + e.host_address + " via " + e.link + " (" + LinkFacts(e.link) + ")";
  }

  void Teardown() {
    // Before the rigs go: the last instance's backend removes its bridge, and its guard.
    for (auto& [address, servers] : servers_) servers.ClosePorts();
    for (auto& [name, rig] : rigs_) {
      rig.peer.reset();
      rig.instance.reset();
      rig.backend.reset();
    }
    rigs_.clear();
    servers_.clear();  // ChildProcess kills and reaps
    if (scratch_) {
      auto removed = harness::RemoveTree(scratch_->path());
      if (!removed.ok()) std::cerr << "isobench: Net: " << removed.error().message() << "\n";
      scratch_.reset();  // releases <workdir>/scratch/<run>
    }
  }

 private:
  using Executor =
      std::function<harness::Result<harness::ExecResult>(const std::vector<std::string>&)>;

  static harness::Result<harness::ExecResult> HostExec(const std::vector<std::string>& argv,
                                                       std::chrono::milliseconds timeout) {
    harness::ExecResult r;
    auto out = harness::RunCapture(argv, timeout, /*die_with_parent=*/true);
    if (out.ok()) {
      r.exit_code = 0;
      r.stdout_text = std::move(*out);
    } else {
      r.exit_code = 1;
      r.stderr_text = out.error().message();
    }
    return r;
  }

  // The client's output; an error with the tool's words when it failed. iperf3's server
  // takes a moment between two tests to listen again (a client then is refused, or
  // told the server is busy): such a start is retried, a few times.
  harness::Result<std::string> RunClient(const std::string& workload, const std::string& server,
                                         const Executor& exec) {
    const std::vector<std::string> argv = ClientArgs(workload, server);
    std::string words;
    for (int attempt = 0; attempt < 5; ++attempt) {
      if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(100 * attempt));
      ISO_ASSIGN_OR_RETURN(harness::ExecResult r, exec(argv));
      if (r.exit_code == 0 && !r.timed_out) return std::move(r.stdout_text);
      words = r.stderr_text + r.stdout_text;
      bool transient = words.find("Connection refused") != std::string::npos ||
                       words.find("server is busy") != std::string::npos;
      if (!transient) break;
    }
    return harness::Error(ToolName(workload) + " failed: " + words.substr(0, 400), EIO);
  }

  std::chrono::milliseconds ClientTimeout() const {
    // A stream moves stream_mib at no less than ~1 MiB/s (a TCG guest manages tens);
    // a ping-pong runs rr_seconds plus sockperf's warm-up.
    const NetConfig& c = bench_.suite.net;
    return std::chrono::seconds(60 + c.stream_mib + 3 * c.rr_seconds);
  }

  std::vector<std::string> ClientArgs(const std::string& workload, const std::string& server) {
    const NetConfig& c = bench_.suite.net;
    if (workload == "tcp_crr")
      return {kWrk,
              "--threads",
              "1",
              "--connections",
              "1",
              "--duration",
              std::to_string(c.rr_seconds) + "s",
              "--latency",
              "--header",
              "Connection: close",
              "http://" + server + ":" + std::to_string(c.http_port) + "/" + kCrrFile};
    if (workload == "tcp_stream" || workload == "tcp_stream_reverse") {
      std::vector<std::string> args = {kIperf3,
                                       "--client",
                                       server,
                                       "--port",
                                       std::to_string(c.iperf3_port),
                                       "--json",
                                       "--bytes",
                                       std::to_string(c.stream_mib) + "M",
                                       "--connect-timeout",
                                       "5000"};
      if (workload == "tcp_stream_reverse") args.push_back("--reverse");
      return args;
    }
    std::vector<std::string> args = {kSockperf,   "ping-pong",
                                     "-i",        server,
                                     "-p",        std::to_string(c.sockperf_port),
                                     "-t",        std::to_string(c.rr_seconds),
                                     "--full-rtt"};
    if (workload == "tcp_rr") args.push_back("--tcp");
    return args;
  }

  static std::string ToolName(const std::string& workload) {
    if (workload == "tcp_crr") return "wrk";
    return workload.rfind("tcp_stream", 0) == 0 ? "iperf3" : "sockperf";
  }
  bool WantsCrr() const {
    const auto& w = bench_.suite.net.workloads;
    return std::find(w.begin(), w.end(), "tcp_crr") != w.end();
  }

  static std::string StreamLabel(const std::string& workload, bool peer) {
    const std::string other = peer ? "peer instance" : "host";
    return workload == "tcp_stream_reverse"
               ? "primary=seconds per MiB received (" + other + " sends, instance receives)"
               : "primary=seconds per MiB received (instance sends, " + other + " receives)";
  }
  static std::string RrLabel() { return "primary=median round trip (sockperf --full-rtt)"; }
  static std::string CrrLabel() {
    return "primary=seconds per connect/request/response/close transaction (1 / wrk's rate, "
           "one connection at a time); request_p50_s, request_p99_s: request -> response, "
           "without the connect";
  }

  void Record(benchmark::State& state, const std::string& workload, const std::string& text,
              const std::string& run, int round, const std::string& who, const std::string& path,
              bool peer = false) {
    if (workload.rfind("tcp_stream", 0) == 0) {
      auto s = ParseIperf3(text);
      if (!s.ok()) {
        state.SkipWithError((who + ": " + s.error().message()).c_str());
        return;
      }
      double seconds_per_mib = (8.0 * (1 << 20)) / s->bits_per_second;
      state.SetIterationTime(seconds_per_mib);
      state.counters["bits_per_s"] = s->bits_per_second;
      state.counters["retransmits"] = static_cast<double>(s->retransmits);
      state.counters["cpu_sender_pct"] = s->cpu_sender_percent;
      state.counters["cpu_receiver_pct"] = s->cpu_receiver_percent;
      book_->Put(run, round, seconds_per_mib);
      state.SetLabel(StreamLabel(workload, peer) + "; " + path);
    } else if (workload == "tcp_crr") {
      auto s = ParseWrk(text);
      if (!s.ok()) {
        state.SkipWithError((who + ": " + s.error().message()).c_str());
        return;
      }
      const double seconds = 1.0 / s->transactions_per_second;
      state.SetIterationTime(seconds);
      state.counters["transactions_per_s"] = s->transactions_per_second;
      state.counters["request_p50_s"] = s->p50_seconds;
      state.counters["request_p99_s"] = s->p99_seconds;
      state.counters["transactions"] = static_cast<double>(s->transactions);
      book_->Put(run, round, seconds);
      state.SetLabel(CrrLabel() + "; " + path);
    } else {
      auto s = ParseSockperf(text);
      if (!s.ok()) {
        state.SkipWithError((who + ": " + s.error().message()).c_str());
        return;
      }
      state.SetIterationTime(s->p50_seconds);
      state.counters["rtt_p50_s"] = s->p50_seconds;
      state.counters["rtt_p99_s"] = s->p99_seconds;
      state.counters["rtt_mean_s"] = s->mean_seconds;
      state.counters["transactions_per_s"] = s->transactions_per_second;
      book_->Put(run, round, s->p50_seconds);
      state.SetLabel(RrLabel() + "; " + path);
    }
  }

  std::vector<std::pair<std::string, int>> GuardPorts() const {
    const NetConfig& c = bench_.suite.net;
    std::vector<std::pair<std::string, int>> ports = {
        {"tcp", c.iperf3_port}, {"tcp", c.sockperf_port}, {"udp", c.sockperf_port}};
    if (WantsCrr()) ports.push_back({"tcp", c.http_port});
    return ports;
  }

  // The servers of one host address, alive for the whole family. `bridge`: the bridge
  // of the instances' path, whose guard opens the servers' ports; empty for the floor.
  const HostServers& ServersOn(const std::string& address, const std::string& bridge = "") {
    auto [it, fresh] = servers_.try_emplace(address);
    HostServers& s = it->second;
    if (!fresh) return s;
    const NetConfig& c = bench_.suite.net;
    const std::string iperf3_port = std::to_string(c.iperf3_port);
    const std::string sockperf_port = std::to_string(c.sockperf_port);
    auto started = [&]() -> harness::Result<void> {
      ISO_RETURN_IF_ERROR(s.OpenPorts(bridge, GuardPorts(), "Net"));
      ISO_RETURN_IF_ERROR(s.Spawn({kIperf3, "--server", "--bind", address, "--port", iperf3_port}));
      ISO_RETURN_IF_ERROR(
          s.Spawn({kSockperf, "server", "--tcp", "-i", address, "-p", sockperf_port}));
      ISO_RETURN_IF_ERROR(s.Spawn({kSockperf, "server", "-i", address, "-p", sockperf_port}));
      if (WantsCrr()) {
        // lighttpd serves one file from <workdir>/scratch/<run>/net-www-<address>.
        ISO_ASSIGN_OR_RETURN(std::string root, CrrRoot(address));
        ISO_RETURN_IF_ERROR(
            s.Spawn({kLighttpd, "-D", "-f", root + "/lighttpd.conf", "-m", root + "/no-modules"}));
      }
      ISO_RETURN_IF_ERROR(
          WaitListening(address, c.iperf3_port, c.sockperf_port, std::chrono::seconds(10)));
      if (WantsCrr())
        ISO_RETURN_IF_ERROR(WaitTcpListening(address, c.http_port, std::chrono::seconds(10)));
      return {};
    }();
    if (!started.ok()) s.error = started.error().message();
    return s;
  }

  // The directory lighttpd serves on the host's `address`, with its configuration.
  harness::Result<std::string> CrrRoot(const std::string& address) {
    if (!scratch_)
      scratch_.emplace(harness::ScratchBase(bench_.context.workdir), bench_.session.run_id);
    ISO_ASSIGN_OR_RETURN(std::string run_dir, scratch_->Ensure());
    const std::string dir = run_dir + "/net-www-" + address;
    ISO_RETURN_IF_ERROR(harness::MakeDirs(dir + "/www", 0755));
    ISO_RETURN_IF_ERROR(
        harness::WriteWholeFile(dir + "/www/" + std::string(kCrrFile), CrrFileContent()));
    ISO_RETURN_IF_ERROR(harness::WriteWholeFile(
        dir + "/lighttpd.conf", LighttpdConfig(dir + "/www", address, bench_.suite.net.http_port)));
    return dir;
  }

  // The peer of `rig`, its servers listening; false with rig.peer_error when it cannot
  // be had (then every peer row of the backend fails with that reason).
  bool StartPeer(const std::string& backend, Rig& rig) {
    if (rig.peer) return true;
    if (!rig.peer_error.empty()) return false;
    auto fail = [&](const std::string& why) {
      rig.peer_error = why;
      rig.peer.reset();
      return false;
    };
    harness::InstanceSpec spec;
    spec.name = "net-" + backend + "-peer";
    spec.memory_bytes = 512ull << 20;
    spec.network = "bridge";
    spec.profile.network_guard = false;
    auto instance = rig.backend->Create(spec);
    if (!instance.ok()) return fail(instance.error().message());
    rig.peer = std::move(*instance);
    auto endpoint = rig.peer->endpoint();
    if (!endpoint) return fail("the instance has no network endpoint");
    rig.peer_endpoint = *endpoint;
    const NetConfig& c = bench_.suite.net;
    const std::string& address = rig.peer_endpoint.address;
    const std::string iperf3_port = std::to_string(c.iperf3_port);
    const std::string sockperf_port = std::to_string(c.sockperf_port);
    // Daemons, children of the instance's init until it goes; their output to /dev/null
    // (sockperf's --daemonize keeps its stdout, which would hold the agent's pipe open).
    const std::string quiet = " </dev/null >/dev/null 2>&1";
    const std::vector<std::string> servers = {
        std::string(kIperf3) + " --server --daemon --bind " + address + " --port " + iperf3_port,
        std::string(kSockperf) + " server --tcp -i " + address + " -p " + sockperf_port +
            " --daemonize",
        std::string(kSockperf) + " server -i " + address + " -p " + sockperf_port + " --daemonize"};
    std::vector<std::string> commands = servers;
    if (WantsCrr()) {
      // One file and the configuration in the instance's /tmp; lighttpd daemonizes.
      const std::string conf = LighttpdConfig("/tmp/isobench-www", address, c.http_port);
      commands.push_back("mkdir -p /tmp/isobench-www && printf '%s' '" + CrrFileContent() +
                         "' > /tmp/isobench-www/" + kCrrFile + " && printf '%s' '" + conf +
                         "' > /tmp/isobench-lighttpd.conf && " + kLighttpd +
                         " -f /tmp/isobench-lighttpd.conf -m /tmp/isobench-no-modules");
    }
    for (const std::string& command : commands) {
      auto started = rig.peer->Exec({"/bin/sh", "-c", command + quiet}, std::chrono::seconds(30));
      if (!started.ok()) return fail(command + ": " + started.error().message());
      if (started->exit_code != 0)
        return fail(command + ": exit " + std::to_string(started->exit_code));
    }
    const ProcNetReader read_peer = [&](const std::string& table) -> harness::Result<std::string> {
      ISO_ASSIGN_OR_RETURN(harness::ExecResult r,
                           rig.peer->Exec({"/bin/cat", table}, std::chrono::seconds(10)));
      if (r.exit_code != 0) return harness::Error("cat " + table + ": " + r.stderr_text, EIO);
      return std::move(r.stdout_text);
    };
    auto ready =
        WaitListening(address, c.iperf3_port, c.sockperf_port, std::chrono::seconds(20), read_peer);
    if (ready.ok() && WantsCrr())
      ready = WaitTcpListening(address, c.http_port, std::chrono::seconds(20), read_peer);
    if (!ready.ok()) return fail(ready.error().message());
    rig.peer_path = rig.endpoint.address + " -> " + address + " via " + rig.endpoint.link +
                    " and " + rig.peer_endpoint.link + " (" + LinkFacts(rig.endpoint.link) + ")";
    std::cerr << "isobench: Net: " << backend << " peer: " << rig.peer_path << "\n";
    return true;
  }

  void ReleaseRig(const std::string& backend) {
    auto it = rigs_.find(backend);
    if (it == rigs_.end()) return;
    it->second.peer.reset();
    if (it->second.peer_error.empty()) it->second.peer_error = "its rounds are over (released)";
    it->second.instance.reset();
    if (it->second.error.empty()) it->second.error = "its rounds are over (released)";
  }

  Rig& GetRig(const std::string& backend) {
    auto it = rigs_.find(backend);
    if (it != rigs_.end()) return it->second;
    Rig& rig = rigs_[backend];
    // virtio-net: Debian's guest kernel builds it as a module.
    std::vector<std::string> tools = {kIperf3, kSockperf};
    if (WantsCrr()) tools.insert(tools.end(), {kWrk, kLighttpd});
    auto made = bench_.MakeBackendWithTools(backend, tools, {"virtio_net"});
    if (!made.ok()) {
      rig.error = made.error().message();
      return rig;
    }
    rig.backend = std::move(*made);
    harness::InstanceSpec spec;
    spec.name = "net-" + backend;
    // The tools and their libraries live in a VM's initramfs, i.e. in guest RAM.
    spec.memory_bytes = 512ull << 20;
    spec.network = "bridge";
    auto instance = rig.backend->Create(spec);
    if (!instance.ok()) {
      rig.error = instance.error().message();
      return rig;
    }
    auto endpoint = (*instance)->endpoint();
    if (!endpoint) {
      rig.error = "the instance has no network endpoint (network \"bridge\" not honoured)";
      return rig;
    }
    rig.endpoint = *endpoint;
    rig.path = PathDescription(rig.endpoint);
    auto bridge = harness::BridgeOf(rig.endpoint.link);
    if (!bridge.ok()) {
      rig.error = bridge.error().message();
      return rig;
    }
    rig.bridge = *bridge;
    rig.instance = std::move(*instance);
    std::cerr << "isobench: Net: " << backend << ": " << rig.path << "\n";
    return rig;
  }

  BenchSession& bench_;
  std::optional<harness::RunDirectory> scratch_;  // lighttpd's files on the host (tcp_crr)
  std::map<std::string, HostServers> servers_;    // by host address
  std::map<std::string, Rig> rigs_;
  std::shared_ptr<RoundBook> book_ = std::make_shared<RoundBook>();
};

}  // namespace

void RegisterNet(BenchSession& bench) {
  const NetConfig& config = bench.suite.net;
  if (!config.enabled) return;
  std::string missing = MissingNetTools(config.workloads);
  if (!missing.empty()) {
    std::cerr << "isobench: network benchmarks skipped: " << missing << "\n";
    benchmark::AddCustomContext("bench.net.skipped", missing);
    return;
  }
  auto family = std::make_shared<NetFamily>(bench);
  bench.cleanups.push_back([family] { family->Teardown(); });
  benchmark::AddCustomContext(
      "bench.net.policy",
      "servers on the host bound to the path's host address only; clients where the path "
      "starts; iperf3 one TCP stream of " +
          std::to_string(config.stream_mib) + " MiB, sockperf ping-pong for " +
          std::to_string(config.rr_seconds) + " s; " + std::to_string(config.rounds) +
          " interleaved rounds" +
          (config.VmRounds() < config.rounds
               ? " (a VM's in the first " + std::to_string(config.VmRounds()) + ")"
               : std::string()) +
          (config.RrRounds() < config.rounds
               ? " (request/response in the first " + std::to_string(config.RrRounds()) + ")"
               : std::string()) +
          "; loopback: " + LinkFacts("lo") + "; bridge subnet " + config.subnet +
          " (Docker's: one /24 of " + config.docker_subnet + ")");
  std::vector<harness::Backend*> backends;
  std::string not_measured;
  for (auto& backend : bench.session.backends) {
    if (backend->traits().bridge_network) {
      backends.push_back(backend.get());
    } else {
      not_measured += (not_measured.empty() ? "" : "; ") + backend->name() +
                      ": the backend has no bridge network (network \"bridge\")";
    }
  }
  if (!not_measured.empty()) {
    std::cerr << "isobench: Net: not measured: " << not_measured << "\n";
    benchmark::AddCustomContext("bench.net.not_measured", not_measured);
  }
  bench.RecordTraits(harness::kHostFloorName, harness::HostTraits());
  auto book = family->book();
  for (int round = 0; round < config.rounds; ++round) {
    const std::vector<std::string> workloads = config.WorkloadsOfRound(round);
    for (const std::string& workload : workloads) {
      std::string run = "Net/host/loopback:" + workload;
      bench
          .Register(run,
                    [family, workload, run, round](benchmark::State& state) {
                      family->RunOnHost(state, workload, run, round);
                    })
          ->Iterations(1)
          ->UseManualTime()
          ->Unit(benchmark::kMicrosecond);
    }
    // The backends taking part in this round; a VM's only in its first vm_rounds.
    std::vector<std::pair<std::string, bool>> active;  // (name, this is its last round)
    for (harness::Backend* backend : backends) {
      const bool vm = backend->traits().kind == harness::BackendTraits::Kind::kVm;
      const int backend_rounds = vm ? config.VmRounds() : config.rounds;
      if (round < backend_rounds) active.emplace_back(backend->name(), round + 1 == backend_rounds);
    }
    for (const auto& [name, last_round] : active) {
      for (const std::string& path : config.paths) {
        for (const std::string& workload : workloads) {
          std::string run = "Net/" + name + "/" + path + ":" + workload;
          const bool last =
              last_round && path == config.paths.back() && workload == workloads.back();
          bench
              .Register(
                  run,
                  [family, name = name, path, workload, run, round, last](benchmark::State& state) {
                    family->RunInInstance(state, name, path, workload, run, round, last);
                  })
              ->Iterations(1)
              ->UseManualTime()
              ->Unit(benchmark::kMicrosecond);
        }
      }
    }
    for (const auto& [name, last_round] : active)
      for (const std::string& path : config.paths)
        for (const std::string& workload : workloads)
          RegisterRatio(bench, book, "Net/" + name + "/" + path + ":" + workload,
                        "Net/host/loopback:" + workload, round,
                        RatioName(name, "Net:" + path + ":" + workload, harness::kHostFloorName));
  }
}

}  // namespace isobench::bench
