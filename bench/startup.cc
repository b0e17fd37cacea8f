// Startup: create -> agent ready, and destroy, on every usable backend, with the
// host's fork+exec of the same agent as the floor.
//
// One iteration is one instance: the manual time is create->ready on the host clock
// (DESIGN.md timing rules); counters carry the destroy time and each phase boundary
// (seconds since the create request), so the report can stack the phases.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <iostream>
#include <map>
#include <thread>
#include <vector>

#include "bench/bench_main.h"
#include "bench/families.h"
#include "bench/rounds.h"
#include "harness/host_backend.h"
#include "harness/image.h"
#include "harness/log.h"
#include "harness/procfs.h"
#include "harness/stats.h"

namespace isobench::bench {
namespace {

std::atomic<int> g_instance_counter{0};
// The ready time of the last successful OneStart, for the round's ratio rows.
double g_last_ready = 0;
double LastReady() { return g_last_ready; }

// The host's CPU time so far (harness::ReadHostCpuTime). Which file holds it does not
// change during a run, so the mount table is read once, not around every start.
harness::Result<harness::HostCpuTime> HostCpuNow() {
  static const std::vector<harness::MountEntry> mounts = [] {
    auto read = harness::ReadMountInfo();
    return read.ok() ? std::move(*read) : std::vector<harness::MountEntry>{};
  }();
  return harness::ReadHostCpuTime(mounts);
}

// The host's CPUs busy over a batch [start, end]: every task's and kernel thread's CPU
// time in it over its wall time, as the counter host_busy_cpus. A batch that keeps
// fewer than the host's CPUs busy waited on something besides CPU. The kernel charges a
// running task's time at its CPU's scheduler tick (4 ms at HZ=250), so one batch's
// figure is within CPUs × tick ÷ wall either way: a few milliseconds' serial start is
// below that resolution and gets none; over a row's batches the median is the figure.
// Not set when the host's total cannot be read twice.
void SetHostBusyCpus(benchmark::State& state, const harness::Result<harness::HostCpuTime>& before,
                     harness::Clock::time_point start, harness::Clock::time_point end) {
  auto after = HostCpuNow();
  double wall = harness::SecondsBetween(start, end);
  if (before.ok() && after.ok() && after->source == before->source && wall > 0)
    state.counters["host_busy_cpus"] = (after->busy_seconds - before->busy_seconds) / wall;
}

// Refills the backend's pool for the next `starts` starts, before the clock starts.
bool Prewarmed(benchmark::State& state, harness::Backend& backend, const std::string& name,
               int starts) {
  auto ready = backend.Prewarm(starts);
  if (!ready.ok()) {
    state.SkipWithError((name + ": " + ready.error().message()).c_str());
    return false;
  }
  // 0: no pool; a pool that covers fewer would mix pooled and cold starts in one row.
  if (*ready > 0 && *ready < starts) {
    state.SkipWithError((name + ": the pool covers " + std::to_string(*ready) + " of " +
                         std::to_string(starts) + " starts")
                            .c_str());
    return false;
  }
  return true;
}

// One create/ready/destroy; false (and the benchmark skipped with the reason) on error.
bool OneStart(benchmark::State& state, harness::Backend& backend, const std::string& backend_name) {
  if (SkippedOnInterrupt(state)) return false;
  if (!Prewarmed(state, backend, backend_name, 1)) return false;
  harness::InstanceSpec spec;
  spec.name = "startup-" + std::to_string(g_instance_counter++);
  spec.memory_bytes = 256ull << 20;
  auto instance = backend.Create(spec);
  if (!instance.ok()) {
    state.SkipWithError((backend_name + ": " + instance.error().message()).c_str());
    return false;
  }
  const auto& timing = (*instance)->startup();
  state.SetIterationTime(timing.ready_seconds);
  g_last_ready = timing.ready_seconds;
  for (const auto& phase : timing.phases)
    state.counters["phase_" + phase.name + "_s"] = phase.seconds;
  if (timing.host_cpu_seconds > 0) state.counters["host_cpu_s"] = timing.host_cpu_seconds;
  auto destroy_start = harness::Clock::now();
  auto destroyed = (*instance)->Destroy();
  state.counters["destroy_s"] = harness::SecondsBetween(destroy_start, harness::Clock::now());
  if (!destroyed.ok()) {
    state.SkipWithError((backend_name + ": destroy: " + destroyed.error().message()).c_str());
    return false;
  }
  return true;
}

// K instances started at once from K threads: the batch's wall time to all-ready is
// the manual time; the slowest and the median single start are counters.
bool ParallelStart(benchmark::State& state, harness::Backend& backend, const std::string& name,
                   int k) {
  std::vector<harness::Result<std::unique_ptr<harness::Instance>>> made;
  made.reserve(static_cast<size_t>(k));
  for (int i = 0; i < k; ++i) made.emplace_back(harness::Error("not started"));
  if (!Prewarmed(state, backend, name, k)) return false;
  std::vector<std::thread> threads;
  auto busy = HostCpuNow();
  auto start = harness::Clock::now();
  for (int i = 0; i < k; ++i) {
    threads.emplace_back([&, i] {
      harness::InstanceSpec spec;
      spec.name = "par-" + std::to_string(g_instance_counter++);
      spec.memory_bytes = 256ull << 20;
      made[static_cast<size_t>(i)] = backend.Create(spec);
    });
  }
  for (auto& t : threads) t.join();
  auto all_ready = harness::Clock::now();
  SetHostBusyCpus(state, busy, start, all_ready);
  std::vector<double> singles;
  std::vector<double> cpu;
  // Each phase boundary over the K instances, so that the row shows which phase
  // stretches when K starts share the host.
  std::map<std::string, std::vector<double>> phases;
  std::string failure;
  for (auto& m : made) {
    if (m.ok()) {
      const harness::StartupTiming& timing = (*m)->startup();
      singles.push_back(timing.ready_seconds);
      if (timing.host_cpu_seconds > 0) cpu.push_back(timing.host_cpu_seconds);
      for (const auto& phase : timing.phases) phases[phase.name].push_back(phase.seconds);
    } else if (failure.empty()) {
      failure = m.error().message();
    }
  }
  made.clear();  // destroys every instance
  if (!failure.empty()) {
    state.SkipWithError((name + ": " + failure).c_str());
    return false;
  }
  std::sort(singles.begin(), singles.end());
  state.SetIterationTime(harness::SecondsBetween(start, all_ready));
  state.counters["k"] = k;
  state.counters["single_median_s"] = singles[singles.size() / 2];
  state.counters["single_max_s"] = singles.back();
  // Medians over the K instances: a phase every instance went through (a phase only
  // some reported would be the median of a different set, so it is left out).
  for (auto& [phase, seconds] : phases)
    if (seconds.size() == singles.size())
      state.counters["phase_" + phase + "_s"] = harness::Median(seconds);
  if (cpu.size() == singles.size()) state.counters["host_cpu_s"] = harness::Median(cpu);
  return true;
}

}  // namespace

void RegisterStartup(BenchSession& bench) {
  const StartupConfig& config = bench.suite.startup;
  if (!config.enabled) return;
  bench.references.push_back(std::make_unique<harness::HostBackend>(bench.context));
  bench.RecordTraits(*bench.references.back());
  std::vector<harness::Backend*> rows = bench.AllRows();
  // The VM's guest under a plain qemu command line: libvirt's overhead, measured.
  static std::vector<std::unique_ptr<harness::Backend>> startup_only;
  // (The reference registry's VM floor, found by its traits.)
  static const harness::BackendRegistry kNone;
  const harness::BackendRegistry& references =
      bench.reference_registry ? *bench.reference_registry : kNone;
  // Each VM product beside the plain-qemu floor that boots the same guest and kernel.
  std::vector<std::pair<std::string, std::string>> vm_pairs;  // product, floor
  auto add_vm_floor = [&](const std::string& product, const harness::BackendContext& context) {
    for (const std::string& name : references.Names()) {
      auto traits = references.Traits(name);
      if (!traits || traits->kind != harness::BackendTraits::Kind::kVm ||
          traits->role != harness::BackendTraits::Role::kFloor)
        continue;
      auto raw = references.Make(name, context);
      if (raw.ok() && (*raw)->Probe().usable) {
        bench.RecordTraits(**raw);
        rows.push_back(raw->get());
        vm_pairs.emplace_back(product, (*raw)->name());
        startup_only.push_back(std::move(*raw));
      }
    }
  };
  std::vector<std::string> vm_products;
  for (harness::Backend* b : bench.AllRows()) {
    if (b->traits().kind != harness::BackendTraits::Kind::kVm ||
        b->traits().role != harness::BackendTraits::Role::kProduct)
      continue;
    vm_products.push_back(b->name());
    if (config.qemu_raw) add_vm_floor(b->name(), bench.context);
  }
  // Backend `base` once more with `options` set: a start-up row of its own beside it, or
  // the failing row `row` when it cannot be made.
  auto add_variant = [&](const std::string& base, const std::string& row,
                         const std::map<std::string, std::string>& options) -> harness::Backend* {
    harness::BackendContext context = bench.context;
    for (const auto& [key, value] : options) context.options[key] = value;
    auto made = bench.session.registry->Make(base, context);
    if (!made.ok()) {
      RegisterFailingRow(bench, "Startup/" + row + "/ready", row + ": " + made.error().message());
      return nullptr;
    }
    bench.RecordTraits(**made);
    rows.push_back(made->get());
    startup_only.push_back(std::move(*made));
    return rows.back();
  };
  // libvirt's own read-back of the guest CPU (one qom-get per CPU property) beside the
  // default one (CPUID feature words, vm/guest_config.h): the same guest and kernel as
  // "vm", set beside the same plain qemu.
  if (config.vm_cpu_features && bench.session.registry &&
      std::find(vm_products.begin(), vm_products.end(), "vm") != vm_products.end()) {
    if (harness::Backend* made =
            add_variant("vm", "vm-cpu-features",
                        {{"vm.row_suffix", "-cpu-features"}, {"vm.cpu_readback", "features"}})) {
      std::string name = made->name();
      vm_products.push_back(name);
      for (size_t i = 0, n = vm_pairs.size(); i < n; ++i) {
        if (vm_pairs[i].first != "vm") continue;
        std::string floor = vm_pairs[i].second;  // a copy: emplace_back may reallocate
        vm_pairs.emplace_back(name, std::move(floor));
      }
      benchmark::AddCustomContext(
          "bench.startup.vm_cpu_features",
          name +
              ": the vm row's guest with libvirt's own read-back of the guest CPU (one "
              "qom-get per CPU property) instead of the CPUID feature words");
    }
  }
  // The minimal guest kernel's rows beside the stock kernel's, when it is built: the
  // same guest image on vm/kernel/build.sh's kernel (vm-minimal-kernel, and
  // qemu-raw-minimal-kernel beside it).
  if (config.minimal_kernel && !vm_products.empty() && bench.session.registry &&
      !bench.context.image.kernel_monolithic) {
    auto kernel = harness::ResolveGuestKernel(bench.context.workdir, "minimal");
    if (!kernel.ok()) {
      benchmark::AddCustomContext("bench.startup.minimal_kernel",
                                  "no minimal-kernel rows: " + kernel.error().message());
    } else {
      // The kernel is there: from here on its rows fail with the reason, never vanish.
      harness::ImageOptions image_options;
      image_options.workdir = bench.context.workdir;
      image_options.agent_binary = harness::DefaultAgentPath();
      image_options.kernel = *kernel;
      image_options.modules = bench.session.image_modules;
      harness::BackendContext minimal_context = bench.context;
      minimal_context.options["vm.row_suffix"] = "-minimal-kernel";
      auto made = [&]() -> harness::Result<std::unique_ptr<harness::Backend>> {
        ISO_ASSIGN_OR_RETURN(minimal_context.image,
                             harness::BuildImage(image_options).Context("its guest image"));
        ISO_ASSIGN_OR_RETURN(auto backend, bench.session.registry->Make("vm", minimal_context));
        if (auto probe = backend->Probe(); !probe.usable)
          return harness::Error(probe.reason, ENODEV);
        return backend;
      }();
      if (!made.ok()) {
        RegisterFailingRow(bench, "Startup/vm-minimal-kernel/ready",
                           "vm-minimal-kernel: " + made.error().message());
      } else {
        bench.RecordTraits(**made);
        rows.push_back(made->get());
        std::string product = (*made)->name();
        vm_products.push_back(product);
        startup_only.push_back(std::move(*made));
        if (config.qemu_raw) add_vm_floor(product, minimal_context);
        const harness::GuestImage& image = minimal_context.image;
        benchmark::AddCustomContext("bench.startup.minimal_kernel",
                                    product + ": the same guest on the minimal kernel " +
                                        image.kernel_source + " (" + image.kernel_release +
                                        "), beside the session's " +
                                        bench.context.image.kernel_source);
      }
    }
  }
  // The native container with its network namespaces made ahead of time, beside the
  // cold row: as large a pool as the largest batch.
  if (config.netns_pool && bench.session.registry) {
    for (harness::Backend* b : bench.AllRows()) {
      if (b->name() != "container") continue;
      int largest = 1;
      for (int k : config.parallel) largest = std::max(largest, k);
      if (!add_variant("container", "container-netns-pool",
                       {{"container.netns_pool", std::to_string(largest)}}))
        break;
      benchmark::AddCustomContext(
          "bench.startup.netns_pool",
          "container-netns-pool: the native container with up to " + std::to_string(largest) +
              " network namespaces (lo up) made before each measured start or batch, outside "
              "its time; each used once, torn down by the kernel when its container goes");
      break;
    }
  }
  bench.cleanups.push_back([] { startup_only.clear(); });

  std::string warmed;
  for (harness::Backend* backend : rows) {
    std::string name = backend->name();
    if (backend->traits().slow_start && !config.vm_warmup) continue;
    // Warm-up, discarded: the first start pays for cold caches (the image's files, the
    // kernel and initramfs in the page cache, libvirt's capabilities) and lazy set-up.
    harness::InstanceSpec warm;
    warm.name = "warmup-" + name;
    warm.memory_bytes = 256ull << 20;
    auto instance = backend->Create(warm);
    if (!instance.ok()) {
      std::cerr << "isobench: warm-up on " << name << " failed: " << instance.error().message()
                << "\n";
      continue;
    }
    (void)(*instance)->Destroy();
    warmed += (warmed.empty() ? "" : ",") + name;
  }
  benchmark::AddCustomContext("bench.startup.warmup",
                              "one discarded start before the first round on: " +
                                  (warmed.empty() ? std::string("none") : warmed));
  auto busy = HostCpuNow();
  benchmark::AddCustomContext(
      "bench.startup.host_busy_cpus",
      busy.ok() ? "the host's CPU time over each parallel batch over its wall time, from " +
                      busy->source + "; " + std::to_string(std::thread::hardware_concurrency()) +
                      " CPUs online; a running task's time is charged at its CPU's scheduler "
                      "tick, so one batch's figure is within CPUs x tick / its wall time"
                : "not measured: " + busy.error().message());

  // Same-run ratios: every backend to the host's floor, each product to the reference
  // of its kind, the VM to its guest under plain qemu (libvirt's cost).
  auto floor_of = [&](harness::BackendTraits::Kind kind) -> harness::Backend* {
    for (harness::Backend* b : rows)
      if (b->traits().role == harness::BackendTraits::Role::kFloor && b->traits().kind == kind)
        return b;
    return nullptr;
  };
  harness::Backend* host = floor_of(harness::BackendTraits::Kind::kHost);
  std::vector<std::pair<std::string, std::string>> ratios;  // row, reference
  std::map<std::string, bool> slow_rows;                    // row -> its starts take seconds
  for (harness::Backend* backend : rows) {
    harness::BackendTraits traits = backend->traits();
    slow_rows[backend->name()] = traits.slow_start;
    if (traits.role == harness::BackendTraits::Role::kFloor) continue;
    if (host) ratios.emplace_back(backend->name(), host->name());
  }
  // Each product beside the reference of its kind (the native runtime and Docker beside
  // runc), by their traits.
  for (harness::Backend* product : rows)
    for (harness::Backend* reference : rows)
      if (product->traits().role == harness::BackendTraits::Role::kProduct &&
          reference->traits().role == harness::BackendTraits::Role::kReference &&
          product->traits().kind == reference->traits().kind)
        ratios.emplace_back(product->name(), reference->name());
  // The pairs are the VM's yardsticks: the report sets each VM beside its own kernel's
  // plain qemu only (none, when that one could not start: never the other kernel's).
  std::map<std::string, std::string> yardsticks;
  for (const std::string& product : vm_products) yardsticks[product];
  for (const auto& [product, floor] : vm_pairs) {
    ratios.emplace_back(product, floor);
    std::string& list = yardsticks[product];
    list += (list.empty() ? "" : ",") + floor;
  }
  for (const auto& [product, list] : yardsticks)
    benchmark::AddCustomContext("backend." + product + ".yardstick", list);

  // Serial starts, interleaved: round r starts one instance of every backend, so slow
  // drift of the host (other load, thermal, page cache) touches every row alike and
  // the ratios between rows stay honest. Every round is one record with the same name;
  // the result loader and the report pool them into one sample per row.
  auto book = std::make_shared<RoundBook>();
  int rounds = std::max(config.repetitions, config.vm_repetitions);
  auto rounds_of = [&](const std::string& name) {
    return slow_rows.at(name) ? config.vm_repetitions : config.repetitions;
  };
  for (int round = 0; round < rounds; ++round) {
    for (harness::Backend* backend : rows) {
      std::string name = backend->name();
      bool slow = backend->traits().slow_start;
      if (round >= rounds_of(name)) continue;
      std::string run = "Startup/" + name + "/ready";
      bench
          .Register(run,
                    [backend, name, book, run, round](benchmark::State& state) {
                      for (auto _ : state) {
                        if (!OneStart(state, *backend, name)) break;
                        book->Put(run, round, LastReady());
                      }
                    })
          ->Iterations(1)
          ->UseManualTime()
          ->Unit(slow ? benchmark::kSecond : benchmark::kMillisecond);
    }
    for (const auto& [row, reference] : ratios) {
      if (round >= rounds_of(row) || round >= rounds_of(reference)) continue;
      RegisterRatio(bench, book, "Startup/" + row + "/ready", "Startup/" + reference + "/ready",
                    round, RatioName(row, "Startup:ready", reference));
    }
  }
  // Parallel starts in interleaved rounds as well: round r runs every K on every backend.
  int parallel_rounds = std::max(config.parallel_rounds, config.vm_parallel_rounds);
  for (int round = 0; round < parallel_rounds; ++round) {
    for (harness::Backend* backend : rows) {
      std::string name = backend->name();
      bool slow = backend->traits().slow_start;
      // The host's floor too, K fork + exec of the agent at once: how far this host lets
      // any process creation overlap, beside the products' batches. A VM floor's K plain
      // qemu boots are not measured.
      if (backend->traits().role == harness::BackendTraits::Role::kFloor && slow) continue;
      if (round >= (slow ? config.vm_parallel_rounds : config.parallel_rounds)) continue;
      for (int k : slow ? config.vm_parallel : config.parallel) {
        bench
            .Register("Startup/" + name + "/parallel:" + std::to_string(k),
                      [backend, name, k](benchmark::State& state) {
                        for (auto _ : state)
                          if (!ParallelStart(state, *backend, name, k)) break;
                      })
            ->Iterations(1)
            ->UseManualTime()
            ->Unit(slow ? benchmark::kSecond : benchmark::kMillisecond);
      }
    }
  }
}

}  // namespace isobench::bench
