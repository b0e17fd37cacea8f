// I/O: fio (Debian's, carried into the image with its libraries) with JSON output, the
// same jobs on every target: the host's file system (the baseline), a container's
// overlay root, a container volume (bind mount of a host directory), and a VM's
// virtio-blk disk backed by a raw file on the same host file system.
//
// Io/<backend>/<target>:<rw>:<bs>:qd<N>; the manual time is seconds per I/O (1/IOPS)
// so that lower is better like every other time; counters carry bandwidth, IOPS and
// completion-latency percentiles. The report divides each by the host row.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <optional>

#include "bench/families.h"
#include "bench/rounds.h"
#include "harness/child_process.h"
#include "harness/fd.h"
#include "harness/host_backend.h"
#include "harness/run_owner.h"

namespace isobench::bench {
namespace {

constexpr const char* kFio = "/usr/bin/fio";

using Job = IoJob;

struct Target {
  std::string name;  // host, overlay, volume, disk
  std::string path;  // file or block device, as the process running fio sees it
};

// What one backend needs for the I/O family: its own image (with fio), a backend made
// for that image, and one instance with a volume and a scratch disk.
struct Rig {
  std::unique_ptr<harness::Backend> backend;
  std::unique_ptr<harness::Instance> instance;
  std::string volume_dir;
  std::string error;
};

// One fio run for every job of the suite on one target, one after the other
// (stonewall), each reported on its own (named after the job): one process start per
// target and round instead of one per job, which under TCG costs more than a job.
std::vector<std::string> FioArgs(const Target& target, const std::vector<Job>& jobs,
                                 const IoConfig& config, bool direct) {
  std::vector<std::string> args = {
      kFio, "--filename=" + target.path, "--size=" + std::to_string(config.size_mib) + "M",
      "--ioengine=libaio", direct ? "--direct=1" : "--direct=0",
      "--runtime=" + std::to_string(config.runtime_ms) + "ms", "--time_based",
      // Jobs as threads of the one process: the process the
      // harness starts is the whole of fio, so it dies with
      // the benchmark (a forked job outlived a killed run).
      "--thread", "--output-format=json"};
  for (const Job& job : jobs) {
    args.push_back("--name=" + job.Name());
    args.push_back("--rw=" + job.rw);
    args.push_back("--bs=" + job.bs);
    args.push_back("--iodepth=" + std::to_string(job.iodepth));
    args.push_back("--stonewall");
  }
  return args;
}

// fio's words when the file system refuses O_DIRECT (open gives EINVAL).
bool RefusedDirect(const std::string& text) {
  return text.find("direct=1") != std::string::npos ||
         text.find("Invalid argument") != std::string::npos;
}

// Fills the counters from fio's JSON; false with `why` if it is not what fio writes.
// The time (seconds per I/O) is the primary metric; iops, bandwidth and latencies are
// derived from the same fio run and are one test with it.
bool ReadFio(const std::string& text, const Job& job, benchmark::State& state, std::string* why,
             double* seconds_per_io) {
  // fio may print warnings before the JSON document.
  size_t brace = text.find('{');
  auto doc =
      nlohmann::json::parse(brace == std::string::npos ? text : text.substr(brace), nullptr, false);
  if (doc.is_discarded() || !doc.contains("jobs") || doc["jobs"].empty()) {
    *why = "fio did not write JSON: " + text.substr(0, 400);
    return false;
  }
  const nlohmann::json* found = nullptr;
  for (const auto& candidate : doc["jobs"])
    if (candidate.value("jobname", "") == job.Name()) found = &candidate;
  if (!found) {
    *why = "fio's JSON has no job `" + job.Name() + "`";
    return false;
  }
  const auto& j = *found;
  const auto& side = job.rw.find("read") != std::string::npos ? j["read"] : j["write"];
  double iops = side.value("iops", 0.0);
  if (iops <= 0) {
    *why = "fio reported no I/O";
    return false;
  }
  *seconds_per_io = 1.0 / iops;
  state.SetIterationTime(1.0 / iops);
  state.counters["iops"] = iops;
  state.counters["bw_bytes_per_s"] = side.value("bw_bytes", 0.0);
  if (side.contains("clat_ns") && side["clat_ns"].contains("percentile")) {
    const auto& p = side["clat_ns"]["percentile"];
    if (p.contains("50.000000")) state.counters["lat_p50_s"] = p["50.000000"].get<double>() * 1e-9;
    if (p.contains("99.000000")) state.counters["lat_p99_s"] = p["99.000000"].get<double>() * 1e-9;
  }
  return true;
}

class IoFamily {
 public:
  explicit IoFamily(BenchSession& bench) : bench_(bench) {
    scratch_.emplace(harness::ScratchBase(bench.context.workdir), bench.session.run_id);
  }

  void RunOnHost(benchmark::State& state, const Job& job, const std::string& run, int round) {
    for (auto _ : state) {
      if (SkippedOnInterrupt(state)) break;
      const FioRun& fio = HostRun(round);
      std::string why;
      double seconds = 0;
      if (!fio.error.empty()) {
        state.SkipWithError(("host: " + fio.error).c_str());
      } else if (!ReadFio(fio.output, job, state, &why, &seconds)) {
        state.SkipWithError(why.c_str());
      } else {
        book_->Put(run, round, seconds);
        state.SetLabel("cache=direct (O_DIRECT on the host's file system); primary=time");
      }
    }
  }

  void RunInInstance(benchmark::State& state, const std::string& backend, const Target& target,
                     const Job& job, const std::string& run, const std::string& host_run, int round,
                     bool last) {
    for (auto _ : state) {
      if (SkippedOnInterrupt(state)) break;
      const FioRun& fio = InstanceRun(backend, target, round);
      std::string why;
      double seconds = 0;
      if (!fio.error.empty()) {
        state.SkipWithError((backend + ": " + fio.error).c_str());
      } else if (!ReadFio(fio.output, job, state, &why, &seconds)) {
        state.SkipWithError((backend + ": " + why).c_str());
      } else {
        book_->Put(run, round, seconds);
        std::string label = "cache=" + CachePolicy(target.name, fio.direct) + "; primary=time";
        auto host = book_->Get(host_run, round);
        if (host && seconds > 0) {
          std::string flag = FasterThanHostFlag(seconds / *host, target.name, job.rw, fio.direct);
          if (!flag.empty()) label += "; " + flag;
        }
        state.SetLabel(label);
      }
    }
    if (last) ReleaseRig(backend);
  }

  // After a backend's last job of its last round its instance goes: an idle guest (or
  // container) would run beside the rounds that follow.
  void ReleaseRig(const std::string& backend) {
    auto it = rigs_.find(backend);
    if (it == rigs_.end()) return;
    it->second.instance.reset();
    if (it->second.error.empty()) it->second.error = "its rounds are over (released)";
  }

  // What stands between fio and the disk, as recorded in every row's label.
  static std::string CachePolicy(const std::string& target, bool direct) {
    if (!direct) return "buffered (O_DIRECT refused: the page cache is in the figure)";
    if (target == "overlay")
      return "direct (O_DIRECT on overlayfs over ext4 on a loop device; the loop device uses "
             "direct I/O on its backing file where the host's file system allows it)";
    if (target == "volume") return "direct (O_DIRECT on a bind mount of the host's file system)";
    if (target == "disk")
      return "direct in the guest (O_DIRECT on virtio-blk); the host side per the VM's disk "
             "cache mode (default cache=none: O_DIRECT on the backing file)";
    return "direct";
  }

  // `time_ratio` is the target's seconds per I/O over the host's, same round: below
  // 1/1.3 the target claims more than 1.3x the host's own throughput, which a layer on
  // top of the host's file system cannot honestly do; name the likely cause.
  static std::string FasterThanHostFlag(double time_ratio, const std::string& target,
                                        const std::string& rw, bool direct) {
    if (!(time_ratio > 0) || time_ratio >= 1.0 / 1.3) return "";
    char ratio[32];
    std::snprintf(ratio, sizeof ratio, "%.2f", 1.0 / time_ratio);
    std::string cause;
    if (!direct) {
      cause = "page cache (buffered I/O)";
    } else if (target == "overlay") {
      cause =
          "loop device: the upper's ext4 image is written through the host's page cache "
          "when the loop device cannot use direct I/O";
    } else if (target == "disk" && rw.find("read") != std::string::npos) {
      cause =
          "VM disk: the host's page cache (disk cache mode other than none) or reads of "
          "never-written blocks of a sparse backing file";
    } else if (target == "disk") {
      // Writes: the image was prefilled, and cache=none keeps the host's page cache out.
      cause =
          "nothing known: VM disk writes with the image prefilled; under cache=none the "
          "host's page cache is out of the path (suspects: request merging in the guest, "
          "the write cache virtio-blk shows the guest). Not a figure to publish as is";
    } else {
      cause = "run-to-run noise of a shared host (same file system as the baseline)";
    }
    return std::string("flag=above 1.3x the host (") + ratio +
           "x): " + (cause.rfind("nothing known", 0) == 0 ? "" : "likely ") + cause;
  }

  std::string Refusals() const {
    std::string out;
    for (auto& [target, why] : refused_) out += (out.empty() ? "" : "; ") + target + ": " + why;
    return out;
  }

  std::shared_ptr<RoundBook> book() { return book_; }

  void Teardown() {
    for (auto& [name, rig] : rigs_) {
      rig.instance.reset();
      rig.backend.reset();
      if (!rig.volume_dir.empty()) (void)harness::RemoveTree(rig.volume_dir);
    }
    rigs_.clear();
    if (!host_dir_.empty()) (void)harness::RemoveTree(host_dir_);
    scratch_.reset();  // releases <workdir>/scratch/<run>
  }

 private:
  // The output of one fio run (every job) on one target in one round.
  struct FioRun {
    std::string output;
    std::string error;  // non-empty: the run failed, every job of it is an error
    bool direct = true;
  };

  // <workdir>/scratch/<run>/io-<target>: fio's files for one target.
  harness::Result<std::string> ScratchFor(const std::string& target) {
    if (!scratch_) return harness::Error("the I/O family was torn down", ECANCELED);
    ISO_ASSIGN_OR_RETURN(std::string run_dir, scratch_->Ensure());
    std::string dir = run_dir + "/io-" + target;
    ISO_RETURN_IF_ERROR(harness::MakeDirs(dir));
    return dir;
  }

  const FioRun& HostRun(int round) {
    auto [it, fresh] = runs_.try_emplace({"host/fs", round});
    if (!fresh) return it->second;
    FioRun& fio = it->second;
    auto dir = ScratchFor(harness::kHostFloorName);
    if (!dir.ok()) {
      fio.error = dir.error().message();
      return fio;
    }
    host_dir_ = *dir;
    auto out = harness::RunCapture(FioArgs({harness::kHostFloorName, host_dir_ + "/fio.data"},
                                           bench_.suite.io.jobs, bench_.suite.io, /*direct=*/true),
                                   std::chrono::minutes(10), /*die_with_parent=*/true);
    if (!out.ok())
      fio.error = out.error().message();
    else
      fio.output = std::move(*out);
    return fio;
  }

  const FioRun& InstanceRun(const std::string& backend, const Target& target, int round) {
    const std::string key = backend + "/" + target.name;
    auto [it, fresh] = runs_.try_emplace({key, round});
    if (!fresh) return it->second;
    FioRun& fio = it->second;
    Rig& rig = GetRig(backend);
    if (!rig.instance) {
      fio.error = rig.error;
      return fio;
    }
    const std::vector<Job>& jobs = bench_.suite.io.jobs;
    fio.direct = !refused_.count(key);
    auto r = rig.instance->Exec(FioArgs(target, jobs, bench_.suite.io, fio.direct),
                                std::chrono::minutes(10));
    if (r.ok() && r->exit_code != 0 && fio.direct &&
        RefusedDirect(r->stderr_text + r->stdout_text)) {
      // The target refuses O_DIRECT: measure it buffered from now on, and say so in
      // every record of it (a buffered figure includes the page cache).
      fio.direct = false;
      refused_[key] = r->stderr_text.substr(0, 200);
      r = rig.instance->Exec(FioArgs(target, jobs, bench_.suite.io, fio.direct),
                             std::chrono::minutes(10));
    }
    if (!r.ok()) {
      fio.error = r.error().message();
    } else if (r->exit_code != 0) {
      fio.error =
          "fio exited " + std::to_string(r->exit_code) + ": " + r->stderr_text.substr(0, 400);
    } else {
      fio.output = std::move(r->stdout_text);
    }
    return fio;
  }

  Rig& GetRig(const std::string& backend) {
    auto it = rigs_.find(backend);
    if (it != rigs_.end()) return it->second;
    Rig& rig = rigs_[backend];
    auto made = bench_.MakeBackendWithTools(backend, {kFio});
    if (!made.ok()) {
      rig.error = made.error().message();
      return rig;
    }
    rig.backend = std::move(*made);
    harness::InstanceSpec spec;
    spec.name = "io-" + backend;
    // fio and its libraries live in the VM's initramfs, i.e. in guest RAM.
    spec.memory_bytes = 1024ull << 20;
    spec.disk_bytes = static_cast<uint64_t>(bench_.suite.io.size_mib + 16) << 20;
    auto volume_dir = ScratchFor(backend);
    if (!volume_dir.ok()) {
      rig.error = volume_dir.error().message();
      return rig;
    }
    rig.volume_dir = *volume_dir;
    harness::BackendTraits traits = rig.backend->traits();
    if (traits.supports_volumes) spec.volumes.push_back({rig.volume_dir, "/vol", false});
    auto instance = rig.backend->Create(spec);
    if (!instance.ok()) {
      rig.error = instance.error().message();
      return rig;
    }
    rig.instance = std::move(*instance);
    if (traits.kind == harness::BackendTraits::Kind::kVm) {
      // fio lays a file out (writes it) before reading it, but not a block device: a
      // fresh disk's reads would hit the holes of its sparse backing file and never
      // reach the host's disk. Write it once, as fio does a file.
      auto filled = rig.instance->Exec(
          {kFio, "--name=prefill", "--filename=/dev/vda", "--rw=write", "--bs=1M",
           "--size=" + std::to_string(bench_.suite.io.size_mib) + "M", "--ioengine=libaio",
           "--direct=1", "--iodepth=8", "--output-format=json"},
          std::chrono::minutes(10));
      if (!filled.ok() || filled->exit_code != 0) {
        rig.error = "writing the disk before the jobs: " +
                    (filled.ok() ? "fio exited " + std::to_string(filled->exit_code) + ": " +
                                       filled->stderr_text.substr(0, 400)
                                 : filled.error().message());
        rig.instance.reset();
      }
    }
    return rig;
  }

  BenchSession& bench_;
  // Declared before the rigs: their instances are gone before the directory is released.
  std::optional<harness::RunDirectory> scratch_;
  std::string host_dir_;
  std::map<std::string, Rig> rigs_;
  std::shared_ptr<RoundBook> book_ = std::make_shared<RoundBook>();
  std::map<std::pair<std::string, int>, FioRun> runs_;  // (backend/target, round)
  // backend/target -> fio's words when it refused O_DIRECT; such a target runs buffered.
  std::map<std::string, std::string> refused_;
};

}  // namespace

void RegisterIo(BenchSession& bench) {
  const IoConfig& config = bench.suite.io;
  if (!config.enabled) return;
  if (::access(kFio, X_OK) != 0) {
    std::cerr << "isobench: I/O benchmarks skipped: " << kFio << " is missing (install fio)\n";
    return;
  }
  auto wants = [&](const char* target) {
    return std::find(config.targets.begin(), config.targets.end(), target) != config.targets.end();
  };
  auto family = std::make_shared<IoFamily>(bench);
  bench.cleanups.push_back([family] {
    std::string refused = family->Refusals();
    if (!refused.empty())
      std::cerr << "isobench: I/O: O_DIRECT refused, measured buffered: " << refused << "\n";
    family->Teardown();
  });
  benchmark::AddCustomContext(
      "bench.io.policy",
      "O_DIRECT on every target that accepts it (else buffered, said in the "
      "row's label); " +
          std::to_string(config.rounds) + " interleaved rounds of " +
          std::to_string(config.runtime_ms) + " ms per job" +
          (config.VmRounds() == 0 ? " (no VM disk: io.vm_rounds = 0)"
           : config.VmRounds() < config.rounds
               ? " (a VM's disk in the first " + std::to_string(config.VmRounds()) + ")"
               : std::string()));
  // Interleaved rounds: round r runs every job on the host's file system, then on every
  // target of every backend, then the round's ratios to the host. One record per round.
  auto book = family->book();
  if (wants("fs")) bench.RecordTraits(harness::kHostFloorName, harness::HostTraits());
  for (int round = 0; round < config.rounds; ++round) {
    if (wants("fs")) {
      for (const Job& job : config.jobs) {
        std::string run = "Io/host/fs:" + job.Name();
        bench
            .Register(run,
                      [family, job, run, round](benchmark::State& state) {
                        family->RunOnHost(state, job, run, round);
                      })
            ->Iterations(1)
            ->UseManualTime()
            ->Unit(benchmark::kMicrosecond);
      }
    }
    struct Ratio {
      std::string backend, run, host_run, family_case, target, rw;
    };
    std::vector<Ratio> ratios;
    for (auto& backend : bench.session.backends) {
      std::string name = backend->name();
      std::vector<Target> targets;
      const bool vm = backend->traits().kind == harness::BackendTraits::Kind::kVm;
      const int backend_rounds = vm ? config.VmRounds() : config.rounds;
      if (vm) {
        if (wants("disk") && round < backend_rounds) targets.push_back({"disk", "/dev/vda"});
      } else {
        if (wants("overlay")) targets.push_back({"overlay", "/var/tmp/fio.data"});
        if (wants("volume")) targets.push_back({"volume", "/vol/fio.data"});
      }
      for (const Target& target : targets)
        for (const Job& job : config.jobs) {
          std::string run = "Io/" + name + "/" + target.name + ":" + job.Name();
          std::string host_run = "Io/host/fs:" + job.Name();
          const bool last = round + 1 == backend_rounds && &target == &targets.back() &&
                            &job == &config.jobs.back();
          bench
              .Register(
                  run,
                  [family, name, target, job, run, host_run, round, last](benchmark::State& state) {
                    family->RunInInstance(state, name, target, job, run, host_run, round, last);
                  })
              ->Iterations(1)
              ->UseManualTime()
              ->Unit(benchmark::kMicrosecond);
          ratios.push_back(
              {name, run, host_run, "Io:" + target.name + ":" + job.Name(), target.name, job.rw});
        }
    }
    if (!wants("fs")) continue;
    for (const Ratio& r : ratios) {
      // Whether the target ran direct is in its own row's label; the cause named here
      // assumes it did.
      RegisterRatio(bench, book, r.run, r.host_run, round,
                    RatioName(r.backend, r.family_case, harness::kHostFloorName),
                    [target = r.target, rw = r.rw](double ratio) {
                      return IoFamily::FasterThanHostFlag(ratio, target, rw, true);
                    });
    }
  }
}

}  // namespace isobench::bench
