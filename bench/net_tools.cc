#include "bench/net_tools.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "harness/bridge_guard.h"
#include "harness/fd.h"

namespace isobench::bench {

using harness::Error;
using harness::Result;

std::string MissingNetTools(const std::vector<std::string>& workloads) {
  std::vector<std::pair<const char*, const char*>> tools = {{kIperf3, "iperf3"},
                                                            {kSockperf, "sockperf"}};
  if (std::find(workloads.begin(), workloads.end(), "tcp_crr") != workloads.end()) {
    tools.push_back({kWrk, "wrk"});
    tools.push_back({kLighttpd, "lighttpd"});
  }
  std::string missing;
  for (const auto& [path, package] : tools)
    if (::access(path, X_OK) != 0)
      missing += (missing.empty() ? "" : ", ") + std::string(path) + " (package " + package + ")";
  return missing.empty() ? "" : missing + " missing";
}

std::string LighttpdConfig(const std::string& root, const std::string& address, int port) {
  return "server.document-root = \"" + root + "\"\n" + "server.bind = \"" + address + "\"\n" +
         "server.port = " + std::to_string(port) + "\n" + "server.max-keep-alive-requests = 0\n" +
         "server.modules = ()\n" + "server.errorlog = \"/dev/null\"\n";
}

std::string CrrFileContent() { return std::string(63, 'x') + "\n"; }

Result<ConnectResult> ParseWrk(const std::string& text) {
  ConnectResult r;
  bool have_rate = false, have_p50 = false, have_p99 = false, have_count = false;
  std::istringstream in(text);
  std::string line;
  auto seconds = [](double value, const char* unit) {
    std::string u = unit;
    if (u == "us") return value * 1e-6;
    if (u == "ms") return value * 1e-3;
    if (u == "s") return value;
    return -1.0;
  };
  while (std::getline(in, line)) {
    double value = 0;
    char unit[8] = {};
    long long count = 0;
    if (line.find("Socket errors:") != std::string::npos)
      return Error("wrk: " + line.substr(line.find("Socket errors:")), EIO);
    if (line.find("Non-2xx or 3xx responses:") != std::string::npos)
      return Error("wrk: " + line.substr(line.find("Non-2xx")), EIO);
    if (std::sscanf(line.c_str(), " 50%% %lf%7s", &value, unit) == 2) {
      r.p50_seconds = seconds(value, unit);
      have_p50 = r.p50_seconds >= 0;
    } else if (std::sscanf(line.c_str(), " 99%% %lf%7s", &value, unit) == 2) {
      r.p99_seconds = seconds(value, unit);
      have_p99 = r.p99_seconds >= 0;
    } else if (std::sscanf(line.c_str(), "Requests/sec: %lf", &value) == 1) {
      r.transactions_per_second = value;
      have_rate = true;
    } else if (std::sscanf(line.c_str(), " %lld requests in", &count) == 1) {
      r.transactions = count;
      have_count = true;
    }
  }
  if (!have_rate || !have_p50 || !have_p99 || !have_count)
    return Error("wrk's output lacks" + std::string(have_rate ? "" : " Requests/sec") +
                     (have_p50 ? "" : " 50%") + (have_p99 ? "" : " 99%") +
                     (have_count ? "" : " the request count") +
                     " (is it --latency?): " + text.substr(0, 300),
                 EPROTO);
  if (r.transactions <= 0 || !(r.transactions_per_second > 0))
    return Error("wrk completed no request: " + text.substr(0, 300), EIO);
  return r;
}

Result<StreamResult> ParseIperf3(const std::string& json_text) {
  auto doc = nlohmann::json::parse(json_text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object())
    return Error("iperf3 did not write JSON: " + json_text.substr(0, 300), EPROTO);
  if (doc.contains("error") && doc["error"].is_string())
    return Error("iperf3: " + doc["error"].get<std::string>(), EIO);
  const nlohmann::json* end = doc.contains("end") ? &doc["end"] : nullptr;
  if (!end || !end->contains("sum_received") || !(*end)["sum_received"].is_object())
    return Error("iperf3's JSON has no end.sum_received", EPROTO);
  StreamResult r;
  r.bits_per_second = (*end)["sum_received"].value("bits_per_second", 0.0);
  if (!(r.bits_per_second > 0)) return Error("iperf3 reported no data received", EIO);
  if (end->contains("sum_sent") && (*end)["sum_sent"].is_object())
    r.retransmits = (*end)["sum_sent"].value("retransmits", int64_t{0});
  // host_total is the client's CPU, remote_total the server's; which end sends depends
  // on the direction (--reverse: the server sends).
  bool reverse = doc.contains("start") && doc["start"].contains("test_start") &&
                 doc["start"]["test_start"].value("reverse", 0) != 0;
  if (end->contains("cpu_utilization_percent")) {
    const auto& cpu = (*end)["cpu_utilization_percent"];
    double client = cpu.value("host_total", 0.0), server = cpu.value("remote_total", 0.0);
    r.cpu_sender_percent = reverse ? server : client;
    r.cpu_receiver_percent = reverse ? client : server;
  }
  return r;
}

Result<PingPongResult> ParseSockperf(const std::string& text) {
  PingPongResult r;
  bool have_p50 = false, have_p99 = false, have_mean = false, have_run = false;
  double run_seconds = 0, received = 0;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    double value = 0;
    size_t at;
    if ((at = line.find("percentile 50.000 =")) != std::string::npos &&
        std::sscanf(line.c_str() + at, "percentile 50.000 = %lf", &value) == 1) {
      r.p50_seconds = value * 1e-6;
      have_p50 = true;
    } else if ((at = line.find("percentile 99.000 =")) != std::string::npos &&
               std::sscanf(line.c_str() + at, "percentile 99.000 = %lf", &value) == 1) {
      r.p99_seconds = value * 1e-6;
      have_p99 = true;
    } else if ((at = line.find("avg-rtt=")) != std::string::npos &&
               std::sscanf(line.c_str() + at, "avg-rtt=%lf", &value) == 1) {
      r.mean_seconds = value * 1e-6;
      have_mean = true;
    } else if ((at = line.find("RunTime=")) != std::string::npos) {
      double seconds = 0, sent = 0, got = 0;
      if (std::sscanf(line.c_str() + at, "RunTime=%lf sec; SentMessages=%lf; ReceivedMessages=%lf",
                      &seconds, &sent, &got) == 3) {
        run_seconds = seconds;
        received = got;
        have_run = true;
      }
    }
  }
  if (!have_p50 || !have_p99 || !have_mean || !have_run) {
    std::string missing = std::string(have_p50 ? "" : " p50") + (have_p99 ? "" : " p99") +
                          (have_mean ? "" : " avg-rtt") + (have_run ? "" : " RunTime");
    return Error(
        "sockperf's output lacks" + missing + " (is it --full-rtt?): " + text.substr(0, 300),
        EPROTO);
  }
  if (!(run_seconds > 0) || !(received > 0) || !(r.p50_seconds > 0))
    return Error("sockperf received no replies: " + text.substr(0, 300), EIO);
  r.transactions_per_second = received / run_seconds;
  return r;
}

namespace {

// /proc/net/{tcp,udp} print a local address as the in-memory u32 (network order) in
// hex and the port in host order: "0100CB0A:1451".
std::string ProcNetKey(const std::string& address, int port) {
  struct in_addr in = {};
  if (::inet_pton(AF_INET, address.c_str(), &in) != 1) return "";
  char key[32];
  std::snprintf(key, sizeof key, "%08X:%04X", in.s_addr, port);
  return key;
}

bool Listed(const ProcNetReader& read, const std::string& table, const std::string& key,
            bool tcp_listen) {
  auto text = read(table);
  if (!text.ok()) return false;
  std::istringstream in(*text);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state;
    fields >> slot >> local >> remote >> state;
    if (local == key && (!tcp_listen || state == "0A")) return true;
  }
  return false;
}

}  // namespace

Result<std::string> ReadHostProcNet(const std::string& table) { return harness::ReadFile(table); }

Result<void> WaitTcpListening(const std::string& address, int port,
                              std::chrono::milliseconds timeout, const ProcNetReader& read) {
  const std::string key = ProcNetKey(address, port);
  if (key.empty()) return Error("not an IPv4 address: `" + address + "`", EINVAL);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!Listed(read, "/proc/net/tcp", key, true)) {
    if (std::chrono::steady_clock::now() > deadline)
      return Error("nothing listens on TCP " + address + ":" + std::to_string(port) + " after " +
                       std::to_string(timeout.count()) + " ms (is the port taken?)",
                   ETIMEDOUT);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return {};
}

Result<void> WaitListening(const std::string& address, int iperf3_port, int sockperf_port,
                           std::chrono::milliseconds timeout, const ProcNetReader& read) {
  const std::string iperf3 = ProcNetKey(address, iperf3_port);
  const std::string sockperf = ProcNetKey(address, sockperf_port);
  if (iperf3.empty()) return Error("not an IPv4 address: `" + address + "`", EINVAL);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string waiting;
  while (true) {
    waiting.clear();
    if (!Listed(read, "/proc/net/tcp", iperf3, true))
      waiting = "iperf3 (TCP " + std::to_string(iperf3_port) + ")";
    else if (!Listed(read, "/proc/net/tcp", sockperf, true))
      waiting = "sockperf (TCP " + std::to_string(sockperf_port) + ")";
    else if (!Listed(read, "/proc/net/udp", sockperf, false))
      waiting = "sockperf (UDP " + std::to_string(sockperf_port) + ")";
    if (waiting.empty()) return {};
    if (std::chrono::steady_clock::now() > deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return Error("the " + waiting + " server does not listen on " + address + " after " +
                   std::to_string(timeout.count()) +
                   " ms (is the port taken? see net.iperf3_port / net.sockperf_port)",
               ETIMEDOUT);
}

std::string LinkFacts(const std::string& link) {
  std::string out;
  auto add = [&out](const std::string& fact) { out += (out.empty() ? "" : ", ") + fact; };
  const std::string sys = "/sys/class/net/" + link;
  if (auto mtu = harness::ReadFile(sys + "/mtu"); mtu.ok()) {
    std::string v = *mtu;
    while (!v.empty() && (v.back() == '\n' || v.back() == ' ')) v.pop_back();
    add("mtu " + v);
  }
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd >= 0 && link.size() < IFNAMSIZ) {
    struct {
      const char* name;
      uint32_t cmd;
    } const kFeatures[] = {{"tso", ETHTOOL_GTSO},
                           {"gso", ETHTOOL_GGSO},
                           {"gro", ETHTOOL_GGRO},
                           {"tx-csum", ETHTOOL_GTXCSUM}};
    for (const auto& f : kFeatures) {
      struct ethtool_value value = {};
      value.cmd = f.cmd;
      struct ifreq ifr = {};
      std::memcpy(ifr.ifr_name, link.c_str(), link.size());
      ifr.ifr_data = reinterpret_cast<char*>(&value);
      if (::ioctl(fd, SIOCETHTOOL, &ifr) == 0)
        add(std::string(f.name) + (value.data ? " on" : " off"));
    }
  }
  if (fd >= 0) ::close(fd);
  auto queues = harness::ListDir(sys + "/queues");
  if (queues.ok() && !queues->empty()) {
    int rx = 0, tx = 0;
    for (const auto& q : *queues) {
      if (q.rfind("rx-", 0) == 0) ++rx;
      if (q.rfind("tx-", 0) == 0) ++tx;
    }
    add("queues " + std::to_string(rx) + " rx/" + std::to_string(tx) + " tx");
  }
  auto master = harness::ReadFile(sys + "/master/uevent");
  if (master.ok()) {
    size_t at = master->find("INTERFACE=");
    if (at != std::string::npos)
      add("master " + master->substr(at + 10, master->find('\n', at) - at - 10));
  }
  return out.empty() ? "no facts readable" : out;
}

Result<void> HostServers::OpenPorts(const std::string& bridge,
                                    std::vector<std::pair<std::string, int>> ports,
                                    const std::string& family) {
  family_ = family;
  if (bridge.empty()) return {};
  bridge_ = bridge;
  for (const auto& [protocol, port] : ports) {
    ISO_RETURN_IF_ERROR(harness::OpenGuardPort(bridge, protocol, port));
    ports_.emplace_back(protocol, port);
  }
  return {};
}

Result<void> HostServers::Spawn(const std::vector<std::string>& argv) {
  auto null_fd = harness::Fd(::open("/dev/null", O_WRONLY | O_CLOEXEC));
  harness::ChildProcess::SpawnOptions options;
  options.stdout_fd = null_fd.get();
  options.stderr_fd = null_fd.get();
  options.die_with_parent = true;
  auto child = harness::ChildProcess::Spawn(argv, options);
  if (!child.ok())
    return Error(argv[0] + ": " + child.error().message(), child.error().errno_value());
  children_.push_back(std::move(*child));
  return {};
}

void HostServers::ClosePorts() {
  for (const auto& [protocol, port] : ports_) {
    auto closed = harness::CloseGuardPort(bridge_, protocol, port);
    if (!closed.ok())
      std::cerr << "isobench: " << family_ << ": " << closed.error().message() << "\n";
  }
  ports_.clear();
  bridge_.clear();
}

}  // namespace isobench::bench
