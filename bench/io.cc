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

#include <iostream>
#include <map>
#include <memory>

#include "bench/families.h"
#include "harness/child_process.h"
#include "harness/cli/builtin_backends.h"
#include "harness/fd.h"
#include "harness/interrupt.h"

namespace isobench::bench {
namespace {

constexpr const char* kFio = "/usr/bin/fio";

using Job = IoJob;

struct Target {
  std::string name;   // host, overlay, volume, disk
  std::string path;   // file or block device, as the process running fio sees it
};

// What one backend needs for the I/O family: its own image (with fio), a backend made
// for that image, and one instance with a volume and a scratch disk.
struct Rig {
  std::unique_ptr<harness::Backend> backend;
  std::unique_ptr<harness::Instance> instance;
  std::string volume_dir;
  std::string error;
};

std::vector<std::string> FioArgs(const Target& target, const Job& job, const IoConfig& config) {
  return {kFio,
          "--name=isobench",
          "--filename=" + target.path,
          "--size=" + std::to_string(config.size_mib) + "M",
          "--rw=" + job.rw,
          "--bs=" + job.bs,
          "--iodepth=" + std::to_string(job.iodepth),
          "--ioengine=libaio",
          "--direct=1",
          "--runtime=" + std::to_string(config.runtime_s),
          "--time_based",
          "--group_reporting",
          "--output-format=json"};
}

// Fills the counters from fio's JSON; false with `why` if it is not what fio writes.
bool ReadFio(const std::string& text, const Job& job, benchmark::State& state, std::string* why) {
  // fio may print warnings before the JSON document.
  size_t brace = text.find('{');
  auto doc = nlohmann::json::parse(brace == std::string::npos ? text : text.substr(brace), nullptr, false);
  if (doc.is_discarded() || !doc.contains("jobs") || doc["jobs"].empty()) {
    *why = "fio did not write JSON: " + text.substr(0, 400);
    return false;
  }
  const auto& j = doc["jobs"][0];
  const auto& side = job.rw.find("read") != std::string::npos ? j["read"] : j["write"];
  double iops = side.value("iops", 0.0);
  if (iops <= 0) {
    *why = "fio reported no I/O";
    return false;
  }
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
  explicit IoFamily(BenchSession& bench) : bench_(bench) {}

  void RunOnHost(benchmark::State& state, const Job& job) {
    std::string dir = bench_.context.workdir + "/io/" + bench_.session.run_id + "-host";
    for (auto _ : state) {
      if (auto r = harness::MakeDirs(dir); !r.ok()) {
        state.SkipWithError(r.error().message().c_str());
        break;
      }
      auto out = harness::RunCapture(FioArgs({"host", dir + "/fio.data"}, job, bench_.suite.io),
                                     std::chrono::minutes(10));
      std::string why;
      if (!out.ok()) state.SkipWithError(("host: " + out.error().message()).c_str());
      else if (!ReadFio(*out, job, state, &why)) state.SkipWithError(why.c_str());
    }
  }

  void RunInInstance(benchmark::State& state, const std::string& backend, const Target& target,
                     const Job& job) {
    Rig& rig = GetRig(backend);
    for (auto _ : state) {
      if (harness::Interrupted()) {
        state.SkipWithError("interrupted by a signal");
        break;
      }
      if (!rig.instance) {
        state.SkipWithError((backend + ": " + rig.error).c_str());
        break;
      }
      auto r = rig.instance->Exec(FioArgs(target, job, bench_.suite.io), std::chrono::minutes(10));
      std::string why;
      if (!r.ok()) {
        state.SkipWithError((backend + ": " + r.error().message()).c_str());
      } else if (r->exit_code != 0) {
        state.SkipWithError((backend + ": fio exited " + std::to_string(r->exit_code) + ": " +
                             r->stderr_text.substr(0, 400))
                                .c_str());
      } else if (!ReadFio(r->stdout_text, job, state, &why)) {
        state.SkipWithError((backend + ": " + why).c_str());
      }
    }
  }

  void Teardown() {
    for (auto& [name, rig] : rigs_) {
      rig.instance.reset();
      rig.backend.reset();
      if (!rig.volume_dir.empty()) (void)harness::RemoveTree(rig.volume_dir);
    }
    rigs_.clear();
    (void)harness::RemoveTree(bench_.context.workdir + "/io/" + bench_.session.run_id + "-host");
  }

 private:
  Rig& GetRig(const std::string& backend) {
    auto it = rigs_.find(backend);
    if (it != rigs_.end()) return it->second;
    Rig& rig = rigs_[backend];
    harness::ImageOptions image_options;
    image_options.workdir = bench_.context.workdir;
    image_options.agent_binary = harness::DefaultAgentPath();
    image_options.want_vm = !bench_.session.image.kernel.empty();
    image_options.modules = bench_.session.image_modules;
    image_options.extra_binaries = {kFio};
    auto image = harness::BuildImage(image_options);
    if (!image.ok()) {
      rig.error = image.error().message();
      return rig;
    }
    harness::BackendContext context = bench_.context;
    context.image = *image;
    auto made = harness::BuiltinBackends().Make(backend, context);
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
    rig.volume_dir = bench_.context.workdir + "/io/" + bench_.session.run_id + "-" + backend;
    if (auto r = harness::MakeDirs(rig.volume_dir); !r.ok()) {
      rig.error = r.error().message();
      return rig;
    }
    if (!harness::IsSlowBackend(backend)) spec.volumes.push_back({rig.volume_dir, "/vol", false});
    auto instance = rig.backend->Create(spec);
    if (!instance.ok()) {
      rig.error = instance.error().message();
      return rig;
    }
    rig.instance = std::move(*instance);
    if (harness::IsSlowBackend(backend)) {
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
  std::map<std::string, Rig> rigs_;
};

}  // namespace

void RegisterIo(BenchSession& bench) {
  const IoConfig& config = bench.suite.io;
  if (!config.enabled) return;
  if (::access(kFio, X_OK) != 0) {
    std::cerr << "isobench: I/O benchmarks skipped: " << kFio << " is missing (install fio)\n";
    return;
  }
  auto family = std::make_shared<IoFamily>(bench);
  bench.cleanups.push_back([family] { family->Teardown(); });
  for (const Job& job : config.jobs) {
    bench.Register("Io/host/fs:" + job.Name(),
                                 [family, job](benchmark::State& state) { family->RunOnHost(state, job); })
        ->Iterations(1)
        ->UseManualTime()
        ->Unit(benchmark::kMicrosecond);
  }
  for (auto& backend : bench.session.backends) {
    std::string name = backend->name();
    std::vector<Target> targets;
    if (harness::IsSlowBackend(name)) {
      targets.push_back({"disk", "/dev/vda"});
    } else {
      targets.push_back({"overlay", "/var/tmp/fio.data"});
      targets.push_back({"volume", "/vol/fio.data"});
    }
    for (const Target& target : targets)
      for (const Job& job : config.jobs) {
        bench.Register("Io/" + name + "/" + target.name + ":" + job.Name(),
                                     [family, name, target, job](benchmark::State& state) {
                                       family->RunInInstance(state, name, target, job);
                                     })
            ->Iterations(1)
            ->UseManualTime()
            ->Unit(benchmark::kMicrosecond);
      }
  }
}

}  // namespace isobench::bench
