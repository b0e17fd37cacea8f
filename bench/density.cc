// Density: ramp N identical idle instances per backend, and at each step record what
// the N instances cost the host and whether they all still answer.
//
// One benchmark per step, Density/<backend>/n:<N>, run in order; the pool of live
// instances grows from step to step and is destroyed after the last one. The ramp is
// repeated in interleaved rounds (every backend once per round), one sample per round. Manual time
// is the create->ready time of the N-th instance (latency under load).
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <memory>
#include <sstream>
#include <thread>
#include <vector>

#include "bench/families.h"
#include "harness/fd.h"
#include "harness/interrupt.h"
#include "harness/procfs.h"

namespace isobench::bench {
namespace {

// Free pages on the per-CPU lists (/proc/zoneinfo, every zone's pagesets, "count:").
// The kernel counts them as allocated in NR_FREE_PAGES, so MemAvailable does not see
// them; the lists hold up to "high" pages per CPU and zone (tens of MiB here), enough
// to hide a few containers' worth of allocations: without them a small ramp reads 0.
harness::Result<uint64_t> PerCpuFreeListBytes() {
  ISO_ASSIGN_OR_RETURN(std::string zoneinfo, harness::ReadFile("/proc/zoneinfo"));
  std::istringstream lines(zoneinfo);
  std::string word;
  uint64_t pages = 0;
  while (lines >> word)
    if (word == "count:") {
      uint64_t count = 0;
      if (!(lines >> count)) return harness::Error("/proc/zoneinfo: a count: without a number");
      pages += count;
    }
  return pages * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

// What the host can still give, from MemAvailable with the kernel's per-CPU counters
// folded in (/proc/meminfo sums the global vmstat counters and each CPU holds back up
// to its stat threshold until the next fold, every vm.stat_interval; writing
// /proc/sys/vm/stat_refresh folds them now, root only) plus the per-CPU free lists.
// The median of three reads, and their spread: the noise a per-instance figure must
// stand out of.
struct SettledAvailable {
  uint64_t median = 0;
  uint64_t spread = 0;
};
harness::Result<SettledAvailable> ReadSettledAvailable() {
  using std::chrono::milliseconds;
  std::vector<uint64_t> reads;
  for (int i = 0; i < 3; ++i) {
    if (i) std::this_thread::sleep_for(milliseconds(10));
    ISO_RETURN_IF_ERROR(harness::WriteFile("/proc/sys/vm/stat_refresh", "1")
                            .Context("folding the per-CPU memory counters"));
    ISO_ASSIGN_OR_RETURN(uint64_t available, harness::MemAvailableBytes());
    ISO_ASSIGN_OR_RETURN(uint64_t on_lists, PerCpuFreeListBytes());
    reads.push_back(available + on_lists);
  }
  std::sort(reads.begin(), reads.end());
  return SettledAvailable{reads[1], reads.back() - reads.front()};
}

struct Pool {
  std::vector<std::unique_ptr<harness::Instance>> instances;
  uint64_t baseline_available = 0;
  uint64_t baseline_spread = 0;
  uint64_t baseline_harness_pss = 0;  // this process, before the first instance
  bool budget_reached = false;
  std::string failure;
};

void Step(benchmark::State& state, harness::Backend& backend, Pool& pool, int n, bool last,
          uint64_t budget_bytes) {
  if (pool.instances.empty() && pool.baseline_available == 0) {
    auto settled = ReadSettledAvailable();
    pool.baseline_available = settled.ok() ? settled->median : 0;
    pool.baseline_spread = settled.ok() ? settled->spread : 0;
    auto own = harness::ProcessPssBytes(::getpid());
    pool.baseline_harness_pss = own.ok() ? *own : 0;
  }
  double nth_ready = 0;
  while (pool.failure.empty() && !pool.budget_reached &&
         static_cast<int>(pool.instances.size()) < n) {
    if (harness::Interrupted()) {
      pool.failure = "interrupted by a signal";
      break;
    }
    harness::InstanceSpec spec;
    spec.name = "density-" + backend.name() + "-" + std::to_string(pool.instances.size());
    spec.memory_bytes = 256ull << 20;
    auto instance = backend.Create(spec);
    if (!instance.ok()) {
      pool.failure = instance.error().message();
      break;
    }
    nth_ready = (*instance)->startup().ready_seconds;
    pool.instances.push_back(std::move(*instance));
    auto available = harness::MemAvailableBytes();
    if (available.ok() && pool.baseline_available > *available &&
        pool.baseline_available - *available > budget_bytes)
      pool.budget_reached = true;
  }
  bool reached = static_cast<int>(pool.instances.size()) >= n;
  if (!pool.failure.empty() || !reached) {
    for (auto _ : state) {
      state.SkipWithError((backend.name() + ": " +
                           (pool.failure.empty() ? "memory budget reached at n=" +
                                                       std::to_string(pool.instances.size())
                                                 : pool.failure))
                              .c_str());
      break;
    }
  } else {
    for (auto _ : state) {
      state.SetIterationTime(nth_ready);
      // What the host pays per instance, each figure only when every instance gave it;
      // otherwise it is missing, and the label says why (never a 0 or a partial sum).
      uint64_t pss = 0, guest = 0, charged = 0, kernel = 0;
      int answering = 0, usage_read = 0, charged_read = 0, kernel_read = 0;
      std::string missing;
      for (auto& instance : pool.instances) {
        auto usage = instance->Usage();
        if (usage.ok()) {
          ++usage_read;
          pss += usage->pss_bytes;
          guest += usage->guest_memory_bytes;
          if (usage->memory_cgroup) {
            ++charged_read;
            charged += usage->memory_current_bytes;
          }
          if (usage->kernel_memory_bytes) {
            ++kernel_read;
            kernel += *usage->kernel_memory_bytes;
          }
          if (missing.empty() && !usage->memory_missing.empty())
            missing = "cgroup memory: " + usage->memory_missing;
        } else if (missing.empty()) {
          missing = "usage of " + instance->name() + ": " + usage.error().message();
        }
        if (instance->Call({{"op", "ping"}}, std::chrono::seconds(10)).ok()) ++answering;
      }
      state.counters["n"] = n;
      if (usage_read == n) {
        state.counters["pss_per_instance_bytes"] = static_cast<double>(pss) / n;
        state.counters["guest_memory_per_instance_bytes"] = static_cast<double>(guest) / n;
      }
      if (charged_read == n)
        state.counters["cgroup_memory_per_instance_bytes"] = static_cast<double>(charged) / n;
      if (kernel_read == n)
        state.counters["kernel_memory_per_instance_bytes"] = static_cast<double>(kernel) / n;
      // Signed: a host that gave memory back while the pool grew reads negative, which
      // says the figure is below the host's noise (mem_available_noise_bytes), not 0.
      auto settled = ReadSettledAvailable();
      if (settled.ok() && pool.baseline_available > 0) {
        double delta =
            static_cast<double>(pool.baseline_available) - static_cast<double>(settled->median);
        state.counters["mem_available_delta_per_instance_bytes"] = delta / n;
        state.counters["mem_available_delta_bytes"] = delta;
        state.counters["mem_available_noise_bytes"] =
            static_cast<double>(std::max(pool.baseline_spread, settled->spread));
      } else if (missing.empty()) {
        missing = "MemAvailable: " +
                  (settled.ok() ? std::string("no baseline was read") : settled.error().message());
      }
      if (!missing.empty()) state.SetLabel(missing);
      // What the harness itself holds per live instance. The native runtime keeps no
      // process per instance, so for `container` this is the runtime's whole share;
      // runc's and Docker's runtimes keep theirs in other processes (shims, daemons).
      auto own = harness::ProcessPssBytes(::getpid());
      if (own.ok() && pool.baseline_harness_pss > 0)
        state.counters["harness_pss_delta_per_instance_bytes"] =
            (static_cast<double>(*own) - static_cast<double>(pool.baseline_harness_pss)) / n;
      state.counters["answering_fraction"] = static_cast<double>(answering) / n;
      state.counters["budget_reached"] = pool.budget_reached ? 1 : 0;
    }
  }
  if (last || !pool.failure.empty()) pool.instances.clear();
}

}  // namespace

void RegisterDensity(BenchSession& bench) {
  const DensityConfig& config = bench.suite.density;
  if (!config.enabled) return;
  uint64_t budget = static_cast<uint64_t>(config.memory_budget_mib) << 20;
  // Interleaved rounds: round r ramps every backend through its steps once, from an
  // empty pool, and tears the pool down after its last step. Each round gives one
  // record per step, so every Density/<backend>/n:<N> row has one sample per round.
  int rounds = std::max(config.rounds, config.vm_rounds);
  for (int round = 0; round < rounds; ++round) {
    for (harness::Backend* backend : bench.AllRows()) {
      std::string name = backend->name();
      bool slow = backend->traits().slow_start;
      if (round >= (slow ? config.vm_rounds : config.rounds)) continue;
      int max = slow ? config.vm_max_instances : config.max_instances;
      std::vector<int> steps;
      for (int n : config.steps)
        if (n <= max) steps.push_back(n);
      if (steps.empty() && max > 0) steps.push_back(max);
      auto pool = std::make_shared<Pool>();
      for (size_t i = 0; i < steps.size(); ++i) {
        int n = steps[i];
        bool last = i + 1 == steps.size();
        bench
            .Register("Density/" + name + "/n:" + std::to_string(n),
                      [backend, pool, n, last, budget](benchmark::State& state) {
                        Step(state, *backend, *pool, n, last, budget);
                      })
            ->Iterations(1)
            ->UseManualTime()
            ->Unit(slow ? benchmark::kSecond : benchmark::kMillisecond);
      }
    }
  }
}

}  // namespace isobench::bench
