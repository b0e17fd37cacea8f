// The suite file: which benchmark families run, on which backends, how long.
// TOML (toml++), every key optional; unknown keys and out-of-range values are errors
// that name the file, the key and the allowed range.
//
//   ISO_ASSIGN_OR_RETURN(SuiteConfig suite, LoadSuiteConfig("bench/suites/quick.toml"));
//   suite.startup.repetitions  // 10
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "harness/error.h"

namespace isobench::bench {

struct StartupConfig {
  bool enabled = true;
  int repetitions = 30;
  int vm_repetitions = 5;
  std::vector<int> parallel = {2, 4, 8, 16};
  std::vector<int> vm_parallel = {2};
  // Parallel starts run in interleaved rounds too: round r starts K at once on every
  // backend, for every K. Each round is one sample of the batch's wall time.
  int parallel_rounds = 8;
  int vm_parallel_rounds = 3;
  // One discarded boot per VM backend before the first round (container-like backends
  // always get one discarded start: it costs milliseconds).
  bool vm_warmup = true;
  // The qemu-raw reference row (the VM's guest under a plain qemu command line, which
  // measures libvirt's cost): vm_repetitions more boots.
  bool qemu_raw = true;
  // When the session's guest kernel is a stock one and the minimal kernel is built
  // (vm/kernel/build.sh), its start-up rows too: vm-minimal-kernel, and with qemu_raw
  // qemu-raw-minimal-kernel beside it.
  bool minimal_kernel = false;
  // The vm row once more with libvirt's own read-back of the guest CPU (one QMP
  // round trip per CPU property, vm.cpu_readback=features): the row vm-cpu-features,
  // beside the same plain qemu, showing what the default feature-word read-back saves.
  bool vm_cpu_features = false;
  // The native container once more with a pool of network namespaces made ahead of
  // time (container.netns_pool, as many as the largest K): the standard mitigation of
  // the kernel's rtnl_mutex in network-namespace set-up, a row of its own beside the
  // cold "container" row.
  bool netns_pool = true;
};

struct DensityConfig {
  bool enabled = true;
  int memory_budget_mib = 4096;
  int max_instances = 32;
  int vm_max_instances = 4;
  std::vector<int> steps = {1, 2, 4, 8, 16, 32};
  // Every round ramps every backend through the steps once (and tears the pool down):
  // one sample per step and round. VMs boot for seconds under TCG, so fewer rounds.
  int rounds = 8;
  int vm_rounds = 2;
  // A start slower than this stops a ramp, as the memory budget does (0: no ceiling);
  // VMs have their own.
  int latency_ceiling_ms = 0;
  int vm_latency_ceiling_ms = 0;
  // The long ramp (Density/<backend>/ramp/n:<N>): the named backends, one at a time,
  // from an empty host through ramp_steps to ramp_max_instances (0: no long ramp),
  // ramp_rounds times. Report-only: one or two rounds cannot reach the gate's level.
  int ramp_max_instances = 0;
  std::vector<int> ramp_steps = {16, 64, 256, 1000};
  // The same for VM backends among ramp_backends: their own steps and maximum, as a VM
  // costs a few hundred MiB where a container costs one; the memory budget or the
  // vm latency ceiling ends a VM ramp long before a thousand (0: no VM long ramp).
  int vm_ramp_max_instances = 0;
  std::vector<int> vm_ramp_steps = {1, 2, 4, 8};
  std::vector<std::string> ramp_backends = {"container"};
  int ramp_rounds = 1;
};

struct OverheadConfig {
  bool enabled = true;
  // Round r runs every kind on every backend once; `repetitions` is the older name.
  int rounds = 8;
  // A VM backend takes part in the first vm_rounds rounds only (0: in none; unset: in
  // every round). A guest under TCG runs the loops tens of times slower.
  int vm_rounds = -1;
  int VmRounds() const { return vm_rounds >= 0 ? vm_rounds : rounds; }
  int syscall_iterations = 1000000;
  int page_fault_pages = 16384;
  int bandwidth_bytes_mib = 32;
};

// One fio job: `rw` (read, write, randread, randwrite), block size as fio spells it
// ("1M", "4k") and queue depth. Written "rw:bs:qdN" in the suite file and in the
// benchmark name (Io/<backend>/<target>:randread:4k:qd32).
struct IoJob {
  std::string rw;
  std::string bs;
  int iodepth = 1;
  std::string Name() const { return rw + ":" + bs + ":qd" + std::to_string(iodepth); }
};

struct IoConfig {
  bool enabled = true;
  int size_mib = 256;
  // fio's time per job and round (`runtime_s` is accepted in whole seconds).
  int runtime_ms = 4000;
  // Round r runs every job on every target once: the unit of replication.
  int rounds = 8;
  // The VM's disk target takes part in the first vm_rounds rounds only (0: in none;
  // unset: in every round).
  int vm_rounds = -1;
  int VmRounds() const { return vm_rounds >= 0 ? vm_rounds : rounds; }
  // Which targets run: fs (the host's own file system, the baseline), overlay (a
  // container's root), volume (a bind mount of a host directory), disk (a VM's disk).
  std::vector<std::string> targets = {"fs", "overlay", "volume", "disk"};
  // Sequential at 1 MiB and random at 4 KiB, each at queue depth 1 and 32.
  std::vector<IoJob> jobs = {{"read", "1M", 1},      {"read", "1M", 32},     {"write", "1M", 1},
                             {"write", "1M", 32},    {"randread", "4k", 1},  {"randread", "4k", 32},
                             {"randwrite", "4k", 1}, {"randwrite", "4k", 32}};
};

// Network: the same workloads over every path, measured with Debian's iperf3 (stream)
// and sockperf (request/response), the servers on the host.
struct NetConfig {
  bool enabled = true;
  // Round r runs every workload on the host's loopback (the floor) and on every
  // backend's path once: the unit of replication.
  int rounds = 9;
  // A VM backend takes part in the first vm_rounds rounds only (0: in none; unset: in
  // every round).
  int vm_rounds = -1;
  int VmRounds() const { return vm_rounds >= 0 ? vm_rounds : rounds; }
  // The request/response workloads (tcp_rr, udp_rr) take part in the first rr_rounds
  // rounds only (unset: in every round): a sockperf sample costs rr_seconds plus the 2 s
  // its client sleeps before every test, so a short suite can carry a few, report-only.
  int rr_rounds = -1;
  int RrRounds() const { return rr_rounds >= 0 ? rr_rounds : rounds; }
  static bool IsRequestResponse(const std::string& workload) {
    return workload == "tcp_rr" || workload == "udp_rr";
  }
  // The workloads of round `round`, in the suite's order.
  std::vector<std::string> WorkloadsOfRound(int round) const {
    std::vector<std::string> out;
    for (const std::string& w : workloads)
      if (!IsRequestResponse(w) || round < RrRounds()) out.push_back(w);
    return out;
  }
  // tcp_stream (instance -> host), tcp_stream_reverse (host -> instance): iperf3, one
  // TCP stream of `stream_mib`; tcp_rr, udp_rr: sockperf ping-pong for `rr_seconds`
  // (whole seconds: sockperf's unit); tcp_crr: wrk against lighttpd for `rr_seconds`, a
  // new TCP connection per request, one at a time (netperf's TCP_CRR).
  std::vector<std::string> workloads = {"tcp_stream", "tcp_stream_reverse", "tcp_rr", "udp_rr"};
  // host: an instance and the host's servers on the instance's network; peer: an
  // instance and a second one of the same backend, which runs the servers.
  std::vector<std::string> paths = {"host", "peer"};
  // The host bridge's IPv4 subnet (harness/bridge.h): a private /16../24 that none of
  // the host's networks or routes overlaps.
  std::string subnet = "10.203.0.0/16";
  // The range of which each run's Docker network takes a /24 (a private /16 to /24).
  std::string docker_subnet = "10.204.0.0/16";
  int stream_mib = 512;
  int rr_seconds = 1;
  // The servers' ports on the host's side of each path (iperf3; sockperf TCP and UDP
  // share the next one).
  int iperf3_port = 5201;
  int sockperf_port = 11111;
  int http_port = 18080;  // lighttpd, for tcp_crr
};

// Performance isolation (the noisy neighbour): on each backend a victim instance runs
// reference workloads alone, then beside a neighbour instance of the same backend and
// the same limits running one stressor at a time (bench/isolation.cc).
struct IsolationConfig {
  bool enabled = true;
  // Round r measures every case of every backend once: the unit of replication.
  int rounds = 9;
  // A VM backend takes part in the first vm_rounds rounds only (unset: in every round).
  int vm_rounds = -1;
  int VmRounds() const { return vm_rounds >= 0 ? vm_rounds : rounds; }
  // The neighbour's stressors: cpu (stress-ng --cpu, a worker per CPU), memory (stress-ng
  // --vm past the memory limit), fork (stress-ng --fork into the pids limit), disk (fio
  // sequential 1 MiB writes, fsync after each), net_send / net_recv (an iperf3 TCP stream
  // to / from the host over the neighbour's network).
  std::vector<std::string> stressors = {"cpu", "memory", "fork", "disk", "net_send", "net_recv"};
  // The victim's figures: cpu (stress-ng --cpu bogo ops/s), memory (memcpy bandwidth),
  // latency (the agent's request round trip), randread (fio 4 KiB random reads, qd1),
  // tcp_rr (one-byte TCP round trips to an echo server on the host).
  std::vector<std::string> metrics = {"cpu", "memory", "latency", "randread", "tcp_rr"};
  // true: every metric beside every stressor; false: each stressor with the metric it
  // aims at (OwnMetric), the compact matrix.
  bool full_matrix = false;
  // The limits of victim and neighbour alike.
  int cpu_quota_pct = 100;  // % of one CPU
  int memory_mib = 512;
  int pids_limit = 512;
  // Proportional I/O share of each (10..1000 as Docker's BlkioWeight; 0: left unset).
  // Equal weights ask for a fair split of the disk; only a BFQ-scheduled disk applies it.
  int io_weight = 500;
  // Limits the neighbour goes without (cpu_limit, memory_limit, pids_limit): what each
  // limit buys the victim, shown by its absence. Empty: victim and neighbour alike.
  std::vector<std::string> weak_neighbour;
  // Held in /dev/cpu_dma_latency while the family runs: the deepest CPU idle state the
  // host may enter, as an exit latency in µs (0: poll). A waiting CPU that halts pays a
  // wake-up a busy one does not, so without it a busy neighbour "speeds up" the victim's
  // round trips (README). -1: leave the host's idle states alone.
  int cpu_dma_latency_us = 0;
  // How long a stressor runs before the victim is measured beside it.
  int settle_ms = 500;
  int iperf3_port = 5211;  // the host's iperf3 server for net_send/net_recv
  int echo_port = 11121;   // the host's echo server for tcp_rr

  static std::string OwnMetric(const std::string& stressor) {
    if (stressor == "cpu") return "cpu";
    if (stressor == "memory") return "memory";
    if (stressor == "disk") return "randread";
    if (stressor == "net_send" || stressor == "net_recv") return "tcp_rr";
    return "latency";  // fork: what a full process table does to a neighbour's requests
  }
  // (stressor, metric) in measuring order: "alone" with every metric some stressor is
  // measured with, then each stressor's cases.
  std::vector<std::pair<std::string, std::string>> Cases() const {
    std::vector<std::pair<std::string, std::string>> stressed;
    for (const std::string& s : stressors) {
      if (full_matrix) {
        for (const std::string& m : metrics) stressed.emplace_back(s, m);
        continue;
      }
      std::string m = OwnMetric(s);
      bool listed = false;
      for (const std::string& x : metrics) listed = listed || x == m;
      if (!listed && !metrics.empty()) m = metrics.front();
      if (!metrics.empty()) stressed.emplace_back(s, m);
    }
    std::vector<std::pair<std::string, std::string>> out;
    for (const std::string& m : metrics)
      for (const auto& c : stressed)
        if (c.second == m) {
          out.emplace_back("alone", m);
          break;
        }
    out.insert(out.end(), stressed.begin(), stressed.end());
    return out;
  }
};

// Parses "randread:4k:qd32"; the error says what is wrong with it.
harness::Result<IoJob> ParseIoJob(std::string_view text);

// Image distribution (bench/image.cc): pulls from the loopback registry (harness/
// registry.h) and starts from what was pulled, on every backend whose traits say
// registry_images.
struct ImageConfig {
  bool enabled = true;
  // Round r measures every case of every backend once: the unit of replication.
  int rounds = 9;
  // A VM backend takes part in the first vm_rounds rounds only (0: in none; unset: in
  // every round), with the small image only: two boots per round.
  int vm_rounds = -1;
  int VmRounds() const { return vm_rounds >= 0 ? vm_rounds : rounds; }
  // The padded image: the guest plus one layer of this many MiB of incompressible bytes,
  // for start-up against image size (0: no padded rows).
  int padded_mib = 256;
  // Layer sharing: this many instances of each of two images that share a base layer,
  // against as many copies (0: no sharing row).
  int sharing_instances = 8;
};

struct SuiteConfig {
  std::string source;  // file it came from, or "<defaults>"
  StartupConfig startup;
  DensityConfig density;
  OverheadConfig overhead;
  IoConfig io;
  NetConfig net;
  IsolationConfig isolation;
  ImageConfig image;
};

harness::Result<SuiteConfig> ParseSuiteConfig(std::string_view toml_text, std::string_view source);
harness::Result<SuiteConfig> LoadSuiteConfig(const std::string& path);

}  // namespace isobench::bench
