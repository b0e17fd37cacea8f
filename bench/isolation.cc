// Performance isolation: what a misbehaving neighbour does to a well-behaved instance
// (the question of Matthews et al.'s Isolation Benchmark Suite, ExpCS 2007).
//
// On each backend two instances of one spec (the same CPU quota, memory and pids limit,
// network and scratch disk): the victim runs reference workloads, the neighbour runs one
// stressor at a time. Each figure is measured alone (the neighbour idle) and beside each
// stressor, in interleaved rounds; round r measures every case of every backend once,
// and a backend's neighbour is quiet again before the next backend's cases start.
//
// Stressors, all inside the neighbour, never on the host (Debian's tools):
//   cpu       stress-ng --cpu 0: a spinning worker per CPU the neighbour sees
//   memory    stress-ng --vm: two workers dirtying 1.5x the memory limit between them,
//             so the limit's OOM killer fires, and stress-ng starts them again
//   fork      stress-ng --fork: four workers forking up to the pids limit each, so the
//             limit refuses forks within milliseconds
//   disk      fio: sequential 1 MiB writes, an fsync after each, on the neighbour's disk
//   net_send  iperf3: one TCP stream neighbour -> host, over the neighbour's network
//   net_recv  iperf3 --reverse: host -> neighbour
// Victim figures (manual time: lower is better, like every time of the suite):
//   cpu       stress-ng --cpu 1 for 1 s: seconds per bogo op (bogo_ops_per_s)
//   memory    the agent's memcpy loop: seconds per MiB (bytes_per_s)
//   latency   the agent's request round trip from the host, median (p50_s, p99_s)
//   randread  fio 4 KiB random reads at qd1, O_DIRECT where the file system takes it:
//             seconds per read (iops, p99_s)
//   tcp_rr    one-byte TCP round trips from the victim's agent to an echo server
//             (socat) on the host: median (p50_s, p99_s)
//
// Isolation/<backend>/<stressor>:<metric>, one record per round, stressor "alone" for
// the baseline; Ratio/<backend>/Isolation:<stressor>:<metric>/vs:alone divides by the
// same round's alone figure: (ratio - 1) x 100 is the victim's degradation in percent.
// Rows beside a stressor carry what the limits did: neighbour_cpu_vs_quota (cpu),
// oom_kills in the kernel that enforces the limit (memory), neighbour_pids against
// pids_limit (fork, where the backend exposes the neighbour's pids cgroup).
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <thread>

#include "bench/families.h"
#include "bench/isolation_tools.h"
#include "bench/net_tools.h"
#include "bench/rounds.h"
#include "container/cgroup.h"
#include "harness/bridge_guard.h"
#include "harness/child_process.h"
#include "harness/fd.h"
#include "harness/procfs.h"

namespace isobench::bench {
namespace {

constexpr const char* kStressNg = "/usr/bin/stress-ng";
constexpr const char* kFio = "/usr/bin/fio";
constexpr const char* kSocat = "/usr/bin/socat";
// A stressor ends by itself after this long even if the harness never stops it.
constexpr int kStressorTimeoutS = 900;
constexpr int kRandreadMib = 64;
constexpr int kHogMib = 256;
constexpr int kLatencyRequests = 200;
constexpr int kRrCount = 2000;

using harness::Clock;

// OOM kills so far: in the neighbour's and the victim's own memory limit (their cgroups,
// or a VM's guest kernel) and on the whole host.
struct OomCounts {
  std::optional<uint64_t> neighbour, victim;
  uint64_t host = 0;
};

struct Rig {
  std::unique_ptr<harness::Backend> backend;
  std::unique_ptr<harness::Instance> victim, neighbour;
  std::optional<harness::NetworkEndpoint> victim_endpoint, neighbour_endpoint;
  std::string bridge;
  bool vm = false;
  std::string error;
  // The stressor running in the neighbour (empty: none), its process group there, and
  // what it started from: the neighbour's CPU time, the OOM kill count.
  std::string running;
  std::string pgid;
  std::string stressor_error;
  Clock::time_point started;
  double neighbour_cpu0 = 0;
  std::optional<OomCounts> oom0;
  std::string randread_path;
  bool randread_direct = true;
  std::optional<uint64_t> io_weight_seen;  // the kernel's, for both instances
  std::string io_note;                     // why this backend runs without the weight
};

// "/isobench-randread" (a file in the instance's root, on its disk) or the VM's disk.
std::string ScratchPath(bool vm, const std::string& file) { return vm ? "/dev/vda" : "/" + file; }

std::string Joined(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

class IsolationFamily {
 public:
  explicit IsolationFamily(BenchSession& bench) : bench_(bench) {}

  std::shared_ptr<RoundBook> book() { return book_; }

  void Run(benchmark::State& state, const std::string& backend, const std::string& stressor,
           const std::string& metric, const std::string& run, int round, bool quiet_after,
           bool release_after) {
    HoldCpuAwake();
    for (auto _ : state) {
      if (SkippedOnInterrupt(state)) break;
      Rig& rig = GetRig(backend);
      if (!rig.victim) {
        state.SkipWithError((backend + ": " + rig.error).c_str());
        break;
      }
      std::string why = Needs(rig, stressor, metric);
      if (!why.empty()) {
        state.SkipWithError((backend + ": " + why).c_str());
        break;
      }
      if (!Become(rig, stressor)) {
        state.SkipWithError((backend + ": " + stressor + ": " + rig.stressor_error).c_str());
        break;
      }
      auto value = Measure(state, rig, metric);
      if (!value.ok()) {
        state.SkipWithError((backend + ": " + metric + ": " + value.error().message()).c_str());
        break;
      }
      auto facts = NeighbourFacts(state, rig, stressor);
      if (!facts.ok()) {
        state.SkipWithError((backend + ": " + stressor + ": " + facts.error().message()).c_str());
        break;
      }
      state.SetIterationTime(*value);
      book_->Put(run, round, *value);
      state.SetLabel(Label(stressor, metric, rig));
    }
    if (quiet_after || release_after) {
      auto it = rigs_.find(backend);
      if (it != rigs_.end()) {
        auto stopped = StopOrCondemn(it->second);
        if (!stopped.ok())
          std::cerr << "isobench: Isolation: " << backend << ": " << stopped.error().message()
                    << "\n";
      }
    }
    if (release_after) Release(backend);
  }

  void Teardown() {
    dma_latency_.reset();  // the host's idle states are its own again
    for (auto& [name, rig] : rigs_) (void)Stop(rig);
    // Before the instances go: the last instance on a bridge takes its guard with it.
    for (auto& [address, s] : servers_) s.ClosePorts();
    for (auto& [name, rig] : rigs_) {
      rig.victim.reset();
      rig.neighbour.reset();
    }
    for (auto& [name, rig] : rigs_) rig.backend.reset();
    rigs_.clear();
    servers_.clear();
  }

 private:
  const IsolationConfig& config() const { return bench_.suite.isolation; }

  // Whether the I/O weight can do anything: a weight divides a device only under a
  // scheduler that reads it (BFQ), and this is the disk under the instances' disks.
  void NoteIoScheduler() {
    int weight = config().io_weight;
    if (weight > 0) {
      // A host whose cgroups take no weight runs the family without one, and says so.
      auto mounts = container::DetectCgroupMounts();
      std::string why =
          mounts.ok() ? container::IoWeightUnavailable(*mounts) : mounts.error().message();
      if (!why.empty()) {
        std::cerr << "isobench: Isolation: io_weight " << weight << " not applied: " << why << "\n";
        io_note_ = "io_weight NOT applied (" + why + ")";
        weight = 0;
      }
    }
    io_weight_ = weight;
    if (io_note_.empty())
      io_note_ = weight == 0 ? std::string("io_weight unset (the kernel's default)")
                             : "io_weight=" + std::to_string(weight) + " each, held by the kernel";
    auto sched = harness::IoSchedulerOf(bench_.context.workdir);
    if (!sched.ok()) {
      disk_note_ = "host disk scheduler unknown: " + sched.error().message();
      return;
    }
    disk_note_ = "host disk " + sched->device + " schedules with " + sched->scheduler;
    if (sched->scheduler != "bfq") disk_note_ += ", which does not divide by weight (BFQ does)";
  }

  // The PM QoS request of the family (cpuidle keeps every CPU out of idle states whose
  // exit latency exceeds it while the file stays open); once, on the first row.
  void HoldCpuAwake() {
    if (dma_latency_tried_) return;
    dma_latency_tried_ = true;
    NoteIoScheduler();
    const int us = config().cpu_dma_latency_us;
    if (us < 0) {
      idle_note_ = "host CPU idle states as the host has them (cpu_dma_latency_us = -1)";
      return;
    }
    harness::Fd fd(::open("/dev/cpu_dma_latency", O_WRONLY | O_CLOEXEC));
    const int32_t value = us;
    if (!fd.valid() || ::write(fd.get(), &value, sizeof value) != sizeof value) {
      idle_note_ = std::string("host CPU idle states NOT held: /dev/cpu_dma_latency: ") +
                   std::strerror(errno);
      std::cerr << "isobench: Isolation: " << idle_note_ << "\n";
      return;
    }
    dma_latency_.emplace(std::move(fd));
    idle_note_ = "host CPUs held out of idle states slower than " + std::to_string(us) +
                 " us to leave (/dev/cpu_dma_latency)";
  }

  static bool NeedsNetwork(const std::string& stressor, const std::string& metric) {
    return stressor == "net_send" || stressor == "net_recv" || metric == "tcp_rr";
  }

  // Why this case cannot be measured on this rig; empty when it can.
  std::string Needs(Rig& rig, const std::string& stressor, const std::string& metric) {
    if (NeedsNetwork(stressor, metric)) {
      if (!rig.victim_endpoint || !rig.neighbour_endpoint)
        return "the backend has no bridge network (network \"bridge\")";
      const HostServers& s = ServersOn(rig.victim_endpoint->host_address, rig.bridge);
      if (!s.error.empty()) return "host servers: " + s.error;
    }
    if (stressor == "memory") {
      // The hog is held by the neighbour's limit: a cgroup's, or a VM's RAM. Without
      // one it would load the host, so it does not start.
      if (!rig.vm) {
        auto usage = rig.neighbour->Usage();
        if (!usage.ok()) return "the neighbour's usage: " + usage.error().message();
        if (!usage->memory_cgroup)
          return "refused: the neighbour's memory limit cannot be seen (" + usage->memory_missing +
                 "), and the memory hog would load the host";
      }
      auto available = harness::MemAvailableBytes();
      const uint64_t need = (2ull * config().memory_mib + 1024) << 20;
      if (!available.ok()) return "MemAvailable: " + available.error().message();
      if (*available < need)
        return "refused: the host has " + std::to_string(*available >> 20) +
               " MiB available, and the memory hog needs two instances' limits and 1 GiB "
               "spare (" +
               std::to_string(need >> 20) + " MiB)";
    }
    return "";
  }

  // The neighbour running `stressor` ("alone": nothing) and settled.
  bool Become(Rig& rig, const std::string& stressor) {
    const std::string want = stressor == "alone" ? "" : stressor;
    if (rig.running == want && rig.stressor_error.empty()) return true;
    auto stopped = StopOrCondemn(rig);
    if (!stopped.ok()) {
      rig.stressor_error = stopped.error().message();
      return false;
    }
    rig.stressor_error.clear();
    if (want.empty()) return true;
    auto started = Start(rig, want);
    if (!started.ok()) {
      rig.stressor_error = started.error().message();
      (void)StopOrCondemn(rig);
      return false;
    }
    return true;
  }

  std::string StressorCommand(const Rig& rig, const std::string& stressor) const {
    const IsolationConfig& c = config();
    const std::string timeout = std::to_string(kStressorTimeoutS);
    if (stressor == "cpu")
      return std::string(kStressNg) + " --cpu 0 --cpu-method int64 --timeout " + timeout;
    if (stressor == "memory")
      // 1.5 x the limit, shared by two workers (stress-ng divides --vm-bytes among them).
      return std::string(kStressNg) + " --vm 2 --vm-bytes " + std::to_string(c.memory_mib * 3 / 2) +
             "M --vm-keep --timeout " + timeout;
    if (stressor == "fork")
      // Four workers, each forking up to the whole pids limit before it reaps: the
      // neighbour's process table is at its cap within milliseconds.
      return std::string(kStressNg) + " --fork 4 --fork-max " + std::to_string(c.pids_limit) +
             " --timeout " + timeout;
    if (stressor == "disk")
      return std::string(kFio) + " --name=hog --filename=" + ScratchPath(rig.vm, "isobench-hog") +
             " --size=" + std::to_string(kHogMib) +
             "M --rw=write --bs=1M --fsync=1 --ioengine=psync --thread --time_based --runtime=" +
             timeout + "s";
    const std::string& host = rig.neighbour_endpoint->host_address;
    std::string cmd = std::string(kIperf3) + " --client " + host + " --port " +
                      std::to_string(c.iperf3_port) + " --time " + timeout +
                      " --connect-timeout 5000";
    if (stressor == "net_recv") cmd += " --reverse";
    return cmd;
  }

  harness::Result<void> Start(Rig& rig, const std::string& stressor) {
    // Its own session (a process group to stop as one), its output nowhere: the agent's
    // pipe must not stay open behind it.
    const std::string command =
        "setsid " + StressorCommand(rig, stressor) + " </dev/null >/dev/null 2>&1 & echo $!";
    if (stressor == "memory") {
      ISO_ASSIGN_OR_RETURN(rig.oom0, Ooms(rig));
    }
    ISO_ASSIGN_OR_RETURN(harness::ResourceUsage usage, rig.neighbour->Usage());
    rig.neighbour_cpu0 = usage.cpu_seconds;
    rig.started = Clock::now();
    ISO_ASSIGN_OR_RETURN(harness::ExecResult r,
                         rig.neighbour->Exec({"/bin/sh", "-c", command}, std::chrono::seconds(30)));
    std::string pid = r.stdout_text;
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
    if (r.exit_code != 0 || pid.empty() || pid.find_first_not_of("0123456789") != pid.npos)
      return harness::Error(
          "starting it: exit " + std::to_string(r.exit_code) + ": " + r.stderr_text.substr(0, 300),
          EIO);
    rig.running = stressor;
    rig.pgid = pid;
    std::this_thread::sleep_for(std::chrono::milliseconds(config().settle_ms));
    // Still running after the settle: a stressor that failed at once (a tool missing,
    // a refused connection) would otherwise pass for a neighbour that costs nothing.
    ISO_ASSIGN_OR_RETURN(harness::ExecResult alive,
                         NeighbourExec(rig, {"/bin/sh", "-c", AliveFunction(rig.pgid) + "alive"}));
    if (alive.exit_code != 0)
      return harness::Error("it exited within " + std::to_string(config().settle_ms) +
                                " ms of its start (" + StressorCommand(rig, stressor) + ")",
                            ECHILD);
    return {};
  }

  // An exec in the neighbour, retried while the fork stressor holds its pids limit.
  static harness::Result<harness::ExecResult> NeighbourExec(Rig& rig,
                                                            const std::vector<std::string>& argv) {
    std::string last;
    for (int attempt = 0; attempt < 40; ++attempt) {
      if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(50 * attempt));
      auto r = rig.neighbour->Exec(argv, std::chrono::seconds(30));
      if (r.ok()) return r;
      last = r.error().message();
      if (r.error().errno_value() != EAGAIN &&
          last.find("Resource temporarily") == std::string::npos)
        return r;
    }
    return harness::Error(argv[0] + " in the neighbour: " + last, EAGAIN);
  }

  // Stops the neighbour's stressor, its whole process group; nothing of it survives.
  harness::Result<void> Stop(Rig& rig) {
    if (rig.running.empty()) return {};
    const std::string group = "-" + rig.pgid;
    const std::string script = AliveFunction(rig.pgid) + "kill -TERM " + group +
                               " 2>/dev/null; i=0; while alive; do i=$((i+1)); if [ $i -gt 50 ]; "
                               "then kill -KILL " +
                               group +
                               " 2>/dev/null; sleep 0.2; alive && exit 1; exit 0; fi; sleep 0.1; "
                               "done";
    std::string stopped = rig.running;
    rig.running.clear();
    ISO_ASSIGN_OR_RETURN(harness::ExecResult r, NeighbourExec(rig, {"/bin/sh", "-c", script}));
    if (r.exit_code != 0)
      return harness::Error("the " + stopped + " stressor's processes survived SIGKILL", EBUSY);
    return {};
  }

  // Stop(); when the stressor survives it, the backend's instances go (destroying them
  // kills whatever ran in them) and its remaining cases fail with the reason: a figure
  // measured "alone" beside a surviving stressor would be a wrong figure, not an error.
  harness::Result<void> StopOrCondemn(Rig& rig) {
    const std::string stressor = rig.running;
    auto stopped = Stop(rig);
    if (stopped.ok()) return stopped;
    rig.error = "stopping the neighbour's " + stressor + " stressor: " + stopped.error().message() +
                " (the instances were destroyed)";
    rig.victim.reset();
    rig.neighbour.reset();
    return harness::Error(rig.error, stopped.error().errno_value());
  }

  // A shell function `alive`: true while a process of group `pgid` runs in the instance.
  // Not `kill -0`, which a zombie answers: the agent (PID 1, the orphans' reaper) reaps
  // only between requests, and this runs inside one.
  static std::string AliveFunction(const std::string& pgid) {
    return "alive() { for f in /proc/[0-9]*/stat; do read -r _ _ st _ pg _ < \"$f\" "
           "2>/dev/null || continue; [ \"$pg\" = " +
           pgid + " ] && [ \"$st\" != Z ] && return 0; done; return 1; }; ";
  }

  static harness::Result<uint64_t> VmstatOomKills(const std::string& text,
                                                  const std::string& whose) {
    // /proc/vmstat is "name value" lines, the flat-keyed form of the cgroup files.
    if (auto kills = container::FlatKeyedValue(text, "oom_kill")) return *kills;
    return harness::Error(whose + "'s /proc/vmstat has no oom_kill", ENOENT);
  }

  // Where the OOM killer has struck so far: each instance's own limit (a container's
  // memory cgroup; a VM's guest kernel, read through its agent) and the host.
  harness::Result<OomCounts> Ooms(Rig& rig) {
    OomCounts counts;
    ISO_ASSIGN_OR_RETURN(std::string host, harness::ReadFile("/proc/vmstat"));
    ISO_ASSIGN_OR_RETURN(counts.host, VmstatOomKills(host, "the host"));
    if (rig.vm) {
      ISO_ASSIGN_OR_RETURN(harness::ExecResult n, NeighbourExec(rig, {"/bin/cat", "/proc/vmstat"}));
      ISO_ASSIGN_OR_RETURN(counts.neighbour, VmstatOomKills(n.stdout_text, "the neighbour"));
      ISO_ASSIGN_OR_RETURN(harness::ExecResult v, rig.victim->Exec({"/bin/cat", "/proc/vmstat"},
                                                                   std::chrono::seconds(30)));
      ISO_ASSIGN_OR_RETURN(counts.victim, VmstatOomKills(v.stdout_text, "the victim"));
    } else {
      ISO_ASSIGN_OR_RETURN(harness::ResourceUsage n, rig.neighbour->Usage());
      ISO_ASSIGN_OR_RETURN(harness::ResourceUsage v, rig.victim->Usage());
      counts.neighbour = n.oom_kills;
      counts.victim = v.oom_kills;
    }
    return counts;
  }

  // What the limits did to the neighbour, as counters of the row beside it.
  harness::Result<void> NeighbourFacts(benchmark::State& state, Rig& rig,
                                       const std::string& stressor) {
    if (stressor == "alone") return {};
    if (stressor == "cpu") {
      ISO_ASSIGN_OR_RETURN(harness::ResourceUsage usage, rig.neighbour->Usage());
      const double wall = harness::SecondsBetween(rig.started, Clock::now());
      const double quota = config().cpu_quota_pct / 100.0;
      if (wall > 0 && usage.cpu_seconds > 0)
        state.counters["neighbour_cpu_vs_quota"] =
            (usage.cpu_seconds - rig.neighbour_cpu0) / wall / quota;
    } else if (stressor == "memory" && rig.oom0) {
      // oom_kills: in the neighbour's own limit; _victim: in the victim's; _elsewhere:
      // on the host outside both (a container's cgroup kills count on the host too).
      ISO_ASSIGN_OR_RETURN(OomCounts now, Ooms(rig));
      const OomCounts& then = *rig.oom0;
      uint64_t inside = 0;
      if (now.neighbour && then.neighbour) {
        state.counters["oom_kills"] = static_cast<double>(*now.neighbour - *then.neighbour);
        if (!rig.vm) inside += *now.neighbour - *then.neighbour;
      }
      if (now.victim && then.victim) {
        state.counters["oom_kills_victim"] = static_cast<double>(*now.victim - *then.victim);
        if (!rig.vm) inside += *now.victim - *then.victim;
      }
      const uint64_t host = now.host - then.host;
      if (now.neighbour && now.victim)
        state.counters["oom_kills_elsewhere"] =
            static_cast<double>(host > inside ? host - inside : 0);
      else  // a cgroup without an OOM count (Linux < 4.13): the host's count, all of it
        state.counters["oom_kills"] = static_cast<double>(host);
    } else if (stressor == "disk" && rig.io_weight_seen) {
      state.counters["io_weight"] = static_cast<double>(*rig.io_weight_seen);
    } else if (stressor == "fork" && !rig.vm) {
      // The workers fork up to the cap and reap: the most of a few samples.
      int64_t most = 0;
      for (int i = 0; i < 5; ++i) {
        if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
        ISO_ASSIGN_OR_RETURN(harness::ResourceUsage usage, rig.neighbour->Usage());
        most = std::max(most, usage.pids);
      }
      if (most > 0) {
        state.counters["neighbour_pids"] = static_cast<double>(most);
        state.counters["pids_limit"] = config().pids_limit;
      }
    }
    // The victim is measured, and so alive; the neighbour must still answer too: a
    // limit that took its agent down instead of its stressor is a finding, not a row.
    ISO_ASSIGN_OR_RETURN(nlohmann::json pong,
                         rig.neighbour->Call({{"op", "ping"}}, std::chrono::seconds(30)));
    (void)pong;
    return {};
  }

  // The victim's figure: seconds per operation (lower is better), counters set.
  harness::Result<double> Measure(benchmark::State& state, Rig& rig, const std::string& metric) {
    harness::Instance& victim = *rig.victim;
    if (metric == "cpu") {
      ISO_ASSIGN_OR_RETURN(harness::ExecResult r,
                           victim.Exec({kStressNg, "--cpu", "1", "--cpu-method", "int64",
                                        "--timeout", "1", "--metrics-brief"},
                                       std::chrono::seconds(60)));
      if (r.exit_code != 0)
        return harness::Error(
            "stress-ng exited " + std::to_string(r.exit_code) + ": " + r.stderr_text.substr(0, 300),
            EIO);
      ISO_ASSIGN_OR_RETURN(double rate, ParseStressNgRate(r.stdout_text + r.stderr_text, "cpu"));
      state.counters["bogo_ops_per_s"] = rate;
      return 1.0 / rate;
    }
    if (metric == "memory") {
      ISO_ASSIGN_OR_RETURN(nlohmann::json reply, victim.Call({{"op", "bench"},
                                                              {"kind", "memory_bandwidth"},
                                                              {"bytes", int64_t{32} << 20},
                                                              {"rounds", 4}},
                                                             std::chrono::minutes(2)));
      const double bps = reply.value("bytes_per_s", 0.0);
      if (!(bps > 0)) return harness::Error("the agent measured no bandwidth", EIO);
      state.counters["bytes_per_s"] = bps;
      return static_cast<double>(1 << 20) / bps;
    }
    if (metric == "latency") {
      std::vector<double> rtt;
      for (int i = 0; i < kLatencyRequests; ++i) {
        auto start = Clock::now();
        ISO_ASSIGN_OR_RETURN(nlohmann::json pong,
                             victim.Call({{"op", "ping"}}, std::chrono::seconds(30)));
        (void)pong;
        rtt.push_back(harness::SecondsBetween(start, Clock::now()));
      }
      std::sort(rtt.begin(), rtt.end());
      const double p50 = rtt[rtt.size() / 2], p99 = rtt[rtt.size() * 99 / 100];
      state.counters["p50_s"] = p50;
      state.counters["p99_s"] = p99;
      return p50;
    }
    if (metric == "tcp_rr") {
      ISO_ASSIGN_OR_RETURN(nlohmann::json reply,
                           victim.Call({{"op", "bench"},
                                        {"kind", "tcp_rr"},
                                        {"address", rig.victim_endpoint->host_address},
                                        {"port", config().echo_port},
                                        {"count", kRrCount},
                                        {"timeout_ms", 10000}},
                                       std::chrono::minutes(2)));
      const double p50 = reply.value("p50_ns", 0.0) * 1e-9;
      if (!(p50 > 0)) return harness::Error("the agent's tcp_rr reply has no p50_ns", EIO);
      state.counters["p50_s"] = p50;
      state.counters["p99_s"] = reply.value("p99_ns", 0.0) * 1e-9;
      return p50;
    }
    // randread
    auto args = [&](bool direct) {
      return std::vector<std::string>{kFio,
                                      "--name=randread",
                                      "--filename=" + rig.randread_path,
                                      "--size=" + std::to_string(kRandreadMib) + "M",
                                      "--rw=randread",
                                      "--bs=4k",
                                      "--iodepth=1",
                                      "--ioengine=psync",
                                      direct ? "--direct=1" : "--direct=0",
                                      "--runtime=500ms",
                                      "--time_based",
                                      "--thread",
                                      "--output-format=json"};
    };
    ISO_ASSIGN_OR_RETURN(harness::ExecResult r,
                         victim.Exec(args(rig.randread_direct), std::chrono::minutes(2)));
    if (r.exit_code != 0)
      return harness::Error(
          "fio exited " + std::to_string(r.exit_code) + ": " + r.stderr_text.substr(0, 300), EIO);
    ISO_ASSIGN_OR_RETURN(FioRead read, ParseFioRead(r.stdout_text));
    state.counters["iops"] = read.iops;
    state.counters["p99_s"] = read.p99_seconds;
    return 1.0 / read.iops;
  }

  std::string Label(const std::string& stressor, const std::string& metric, const Rig& rig) const {
    static const std::map<std::string, std::string> kMetric = {
        {"cpu", "seconds per stress-ng cpu bogo op (int64, one worker, 1 s)"},
        {"memory", "seconds per MiB copied (the agent's memcpy, 4 x 32 MiB)"},
        {"latency", "median round trip of the agent's requests (" +
                        std::to_string(kLatencyRequests) + " pings)"},
        {"randread", "seconds per 4 KiB random read (fio qd1)"},
        {"tcp_rr", "median one-byte TCP round trip to the host's echo server (" +
                       std::to_string(kRrCount) + ")"}};
    std::string label = "primary=" + kMetric.at(metric) + "; " + idle_note_;
    if (metric == "randread")
      label += std::string("; ") + (rig.randread_direct ? "O_DIRECT" : "buffered") + " on " +
               rig.randread_path;
    label += "; neighbour: " + (stressor == "alone" ? std::string("idle") : stressor);
    if (!config().weak_neighbour.empty())
      label += " (without " + Joined(config().weak_neighbour) + ")";
    if (stressor == "memory")
      label += rig.vm ? "; oom_kills: /proc/vmstat of each guest, oom_kills_elsewhere: the host's"
                      : "; oom_kills: each instance's memory cgroup, oom_kills_elsewhere: the "
                        "host's /proc/vmstat less those";
    if (stressor == "disk" || metric == "randread")
      label += "; " + (rig.io_note.empty() ? io_note_ : rig.io_note) + "; " + disk_note_;
    return label;
  }

  // The host's servers on one address, for the family's whole run: iperf3 (net_send,
  // net_recv) and the echo server (tcp_rr), their ports open on the bridge's guard.
  const HostServers& ServersOn(const std::string& address, const std::string& bridge) {
    auto [it, fresh] = servers_.try_emplace(address);
    HostServers& s = it->second;
    if (!fresh) return s;
    const IsolationConfig& c = config();
    auto started = [&]() -> harness::Result<void> {
      ISO_RETURN_IF_ERROR(
          s.OpenPorts(bridge, {{"tcp", c.iperf3_port}, {"tcp", c.echo_port}}, "Isolation"));
      ISO_RETURN_IF_ERROR(s.Spawn(
          {kIperf3, "--server", "--bind", address, "--port", std::to_string(c.iperf3_port)}));
      // socat's PIPE echoes what it reads; a child per connection, which ends after 60 s
      // without traffic (-T) should its parent have died with the harness mid-measurement.
      ISO_RETURN_IF_ERROR(s.Spawn(
          {kSocat, "-T", "60",
           "TCP4-LISTEN:" + std::to_string(c.echo_port) + ",bind=" + address + ",reuseaddr,fork",
           "PIPE"}));
      ISO_RETURN_IF_ERROR(WaitTcpListening(address, c.iperf3_port, std::chrono::seconds(10)));
      return WaitTcpListening(address, c.echo_port, std::chrono::seconds(10));
    }();
    if (!started.ok()) s.error = started.error().message();
    return s;
  }

  Rig& GetRig(const std::string& backend) {
    auto it = rigs_.find(backend);
    if (it != rigs_.end()) return it->second;
    Rig& rig = rigs_[backend];
    auto made = bench_.MakeBackendWithTools(backend, {kStressNg, kFio, kIperf3}, {"virtio_net"});
    if (!made.ok()) {
      rig.error = made.error().message();
      return rig;
    }
    rig.backend = std::move(*made);
    const harness::BackendTraits traits = rig.backend->traits();
    rig.vm = traits.kind == harness::BackendTraits::Kind::kVm;
    const IsolationConfig& c = config();
    int io_weight = io_weight_;
    auto make =
        [&](const std::string& role) -> harness::Result<std::unique_ptr<harness::Instance>> {
      harness::InstanceSpec spec;
      spec.name = "iso-" + backend + "-" + role;
      spec.vcpus = 1;
      spec.cpu_quota = c.cpu_quota_pct / 100.0;
      spec.memory_bytes = static_cast<uint64_t>(c.memory_mib) << 20;
      spec.pids_limit = c.pids_limit;
      spec.io_weight = static_cast<uint32_t>(io_weight);
      // The randread file (victim) or the disk hog's (neighbour), on a disk of its own:
      // a VM's virtio-blk, the native container's disk-backed upper layer.
      spec.disk_bytes = static_cast<uint64_t>(kHogMib + 128) << 20;
      if (traits.bridge_network) spec.network = "bridge";
      if (role == "neighbour") {
        for (const std::string& weak : c.weak_neighbour) {
          if (weak == "cpu_limit") spec.profile.cpu_limit = false;
          if (weak == "memory_limit") spec.profile.memory_limit = false;
          if (weak == "pids_limit") spec.profile.pids_limit = false;
          spec.profile.name = "weak-neighbour";
        }
      }
      return rig.backend->Create(spec);
    };
    auto victim = make("victim");
    if (!victim.ok() && io_weight > 0 && victim.error().errno_value() == ENOTSUP) {
      // A runtime that cannot apply the weight (Docker 20.10 discards it where the kernel
      // has BFQ's file, not CFQ's): both run without one, and every disk row says so.
      rig.io_note = "io_weight NOT applied on " + backend + ": " + victim.error().message();
      std::cerr << "isobench: Isolation: " << rig.io_note << "\n";
      io_weight = 0;
      victim = make("victim");
    }
    if (!victim.ok()) {
      rig.error = "the victim: " + victim.error().message();
      return rig;
    }
    auto neighbour = make("neighbour");
    if (!neighbour.ok()) {
      rig.error = "the neighbour: " + neighbour.error().message();
      return rig;
    }
    // The weight asked for is the weight the kernel holds, for both (a runtime or daemon
    // that dropped it would otherwise pass for one that enforces it).
    if (io_weight > 0) {
      auto mounts = container::DetectCgroupMounts();
      for (const auto& [role, instance] :
           {std::pair{"victim", victim->get()}, std::pair{"neighbour", neighbour->get()}}) {
        auto seen = mounts.ok() ? container::ExpectIoWeight(instance->host_pid(), *mounts,
                                                            static_cast<uint32_t>(io_weight))
                                : harness::Result<container::IoWeightSeen>(mounts.error());
        if (!seen.ok()) {
          rig.error = std::string("the ") + role + ": " + seen.error().message();
          return rig;
        }
        rig.io_weight_seen = seen->weight;
      }
    }
    rig.victim_endpoint = (*victim)->endpoint();
    rig.neighbour_endpoint = (*neighbour)->endpoint();
    if (rig.victim_endpoint) {
      auto bridge = harness::BridgeOf(rig.victim_endpoint->link);
      if (!bridge.ok()) {
        rig.error = bridge.error().message();
        return rig;
      }
      rig.bridge = *bridge;
    }
    // The randread file, written once before any read.
    rig.randread_path = ScratchPath(rig.vm, "isobench-randread");
    auto laid =
        (*victim)->Exec({kFio, "--name=layout", "--filename=" + rig.randread_path,
                         "--size=" + std::to_string(kRandreadMib) + "M", "--rw=write", "--bs=1M",
                         "--ioengine=psync", "--end_fsync=1", "--thread", "--output-format=json"},
                        std::chrono::minutes(5));
    if (!laid.ok() || laid->exit_code != 0) {
      rig.error = "writing the randread file: " +
                  (laid.ok() ? "fio exited " + std::to_string(laid->exit_code) + ": " +
                                   laid->stderr_text.substr(0, 300)
                             : laid.error().message());
      return rig;
    }
    // O_DIRECT where the file system takes it (overlayfs over some upper layers does
    // not); the label says which.
    auto probe =
        (*victim)->Exec({kFio, "--name=direct", "--filename=" + rig.randread_path,
                         "--size=" + std::to_string(kRandreadMib) + "M", "--rw=randread", "--bs=4k",
                         "--direct=1", "--io_size=4k", "--thread", "--output-format=json"},
                        std::chrono::minutes(1));
    rig.randread_direct = probe.ok() && probe->exit_code == 0;
    rig.victim = std::move(*victim);
    rig.neighbour = std::move(*neighbour);
    std::cerr << "isobench: Isolation: " << backend << ": victim and neighbour up"
              << (rig.victim_endpoint ? " on " + rig.bridge : std::string(" (no network)"))
              << "; randread " << (rig.randread_direct ? "O_DIRECT" : "buffered") << " on "
              << rig.randread_path << "\n";
    return rig;
  }

  void Release(const std::string& backend) {
    auto it = rigs_.find(backend);
    if (it == rigs_.end()) return;
    it->second.victim.reset();
    it->second.neighbour.reset();
    if (it->second.error.empty()) it->second.error = "its rounds are over (released)";
  }

  BenchSession& bench_;
  bool dma_latency_tried_ = false;
  std::optional<harness::Fd> dma_latency_;
  std::string idle_note_;
  std::string io_note_;    // the weight every instance gets, or why none
  std::string disk_note_;  // the host disk under the instances' disks, and its scheduler
  int io_weight_ = 0;      // the weight asked of every instance (0 where cgroups take none)
  std::map<std::string, Rig> rigs_;
  std::map<std::string, HostServers> servers_;
  std::shared_ptr<RoundBook> book_ = std::make_shared<RoundBook>();
};

}  // namespace

void RegisterIsolation(BenchSession& bench) {
  const IsolationConfig& config = bench.suite.isolation;
  if (!config.enabled) return;
  std::string missing;
  for (const char* tool : {kStressNg, kFio, kIperf3, kSocat})
    if (::access(tool, X_OK) != 0) missing += (missing.empty() ? "" : ", ") + std::string(tool);
  if (!missing.empty()) {
    const std::string why = "missing " + missing + " (bash ci/setup.sh installs them)";
    std::cerr << "isobench: isolation benchmarks skipped: " << why << "\n";
    benchmark::AddCustomContext("bench.isolation.skipped", why);
    return;
  }
  auto family = std::make_shared<IsolationFamily>(bench);
  bench.cleanups.push_back([family] { family->Teardown(); });
  const auto cases = config.Cases();
  benchmark::AddCustomContext(
      "bench.isolation.policy",
      "victim and neighbour of one spec per backend: " + std::to_string(config.cpu_quota_pct) +
          " % of a CPU, " + std::to_string(config.memory_mib) + " MiB, " +
          std::to_string(config.pids_limit) + " pids, " +
          (config.io_weight > 0 ? "I/O weight " + std::to_string(config.io_weight)
                                : std::string("no I/O weight")) +
          ", 1 vCPU; one stressor at a time in the "
          "neighbour, settled " +
          std::to_string(config.settle_ms) + " ms; " +
          (config.weak_neighbour.empty()
               ? std::string()
               : "the neighbour WITHOUT " + Joined(config.weak_neighbour) + "; ") +
          (config.full_matrix ? "every metric beside every stressor"
                              : "each stressor with the metric it aims at") +
          "; " +
          (config.cpu_dma_latency_us < 0
               ? std::string("host CPU idle states left alone")
               : "host CPUs held out of idle states slower than " +
                     std::to_string(config.cpu_dma_latency_us) +
                     " us to leave while the family runs (/dev/cpu_dma_latency)") +
          "; " + std::to_string(config.rounds) + " interleaved rounds" +
          (config.VmRounds() < config.rounds
               ? " (a VM's in the first " + std::to_string(config.VmRounds()) + ")"
               : std::string()));
  std::vector<harness::Backend*> backends;
  std::string not_measured;
  for (auto& backend : bench.session.backends) {
    backends.push_back(backend.get());
    if (!backend->traits().bridge_network)
      not_measured += (not_measured.empty() ? "" : "; ") + backend->name() +
                      ": net_send, net_recv and tcp_rr (no bridge network)";
  }
  if (!not_measured.empty())
    benchmark::AddCustomContext("bench.isolation.not_measured", not_measured);
  auto book = family->book();
  for (int round = 0; round < config.rounds; ++round) {
    std::vector<std::pair<std::string, bool>> active;  // (name, this is its last round)
    for (harness::Backend* backend : backends) {
      const bool vm = backend->traits().kind == harness::BackendTraits::Kind::kVm;
      const int backend_rounds = vm ? config.VmRounds() : config.rounds;
      if (round < backend_rounds) active.emplace_back(backend->name(), round + 1 == backend_rounds);
    }
    for (const auto& [name, last_round] : active) {
      for (size_t i = 0; i < cases.size(); ++i) {
        const auto& [stressor, metric] = cases[i];
        const std::string run = "Isolation/" + name + "/" + stressor + ":" + metric;
        // The last case of the backend's block quiets its neighbour: the next backend's
        // cases must not run beside it.
        const bool quiet = i + 1 == cases.size();
        const bool release = quiet && last_round;
        bench
            .Register(run,
                      [family, name = name, stressor = stressor, metric = metric, run, round, quiet,
                       release](benchmark::State& state) {
                        family->Run(state, name, stressor, metric, run, round, quiet, release);
                      })
            ->Iterations(1)
            ->UseManualTime()
            ->Unit(benchmark::kMicrosecond);
      }
    }
    for (const auto& [name, last_round] : active)
      for (const auto& [stressor, metric] : cases)
        if (stressor != "alone")
          RegisterRatio(bench, book, "Isolation/" + name + "/" + stressor + ":" + metric,
                        "Isolation/" + name + "/alone:" + metric, round,
                        RatioName(name, "Isolation:" + stressor + ":" + metric, "alone"));
  }
}

}  // namespace isobench::bench
