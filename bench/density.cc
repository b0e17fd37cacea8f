// Density: ramp N identical idle instances per backend, and at each step record what
// the N instances cost the host and whether they all still answer.
//
// One benchmark per step, Density/<backend>/n:<N>, run in order; the pool of live
// instances grows from step to step and is destroyed after the last one. The ramp is
// repeated in interleaved rounds (every backend once per round), one sample per round. Manual time
// is the create->ready time of the N-th instance (latency under load).
#include <benchmark/benchmark.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
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

// One quick read of the same quantity (no fold, no repeats): cheap enough after every
// start of a thousand-instance ramp. It only nominates a stop; a settled read decides.
harness::Result<uint64_t> ReadAvailable() {
  ISO_ASSIGN_OR_RETURN(uint64_t available, harness::MemAvailableBytes());
  ISO_ASSIGN_OR_RETURN(uint64_t on_lists, PerCpuFreeListBytes());
  return available + on_lists;
}

struct Pool {
  std::vector<std::unique_ptr<harness::Instance>> instances;
  uint64_t baseline_available = 0;
  uint64_t baseline_spread = 0;
  uint64_t baseline_harness_pss = 0;  // this process, before the first instance
  bool budget_reached = false;
  size_t budget_reached_at = 0;    // the instance count that passed the budget
  uint64_t budget_stop_delta = 0;  // the settled drop that passed it
  double last_ready = 0;           // the create -> ready time of the newest instance
  std::string ceiling_reached;     // why the latency ceiling stopped the ramp
  std::string failure;
};

// Where a ramp stops, whichever comes first: the memory budget (MemAvailable's drop), a
// start slower than the ceiling (0: none), a start failing.
struct RampLimits {
  uint64_t budget_bytes = 0;
  double latency_ceiling_s = 0;
};

// "memory budget reached at n=17 (budget 4096 MiB of MemAvailable)"
std::string BudgetStop(const Pool& pool, const RampLimits& limits) {
  return "memory budget reached at n=" + std::to_string(pool.budget_reached_at) + " (budget " +
         std::to_string(limits.budget_bytes >> 20) + " MiB of MemAvailable)";
}

// The q-quantile (0..1) of `v`, nearest rank.
double Quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size())));
  return v[std::min(v.size() - 1, rank > 0 ? rank - 1 : 0)];
}

// One step of a ramp: start instances until the pool holds `n`, then measure. A step
// `to_budget` goes on until the memory budget stops it (n is then its cap), and is
// measured at whatever count the budget allowed.
void Step(benchmark::State& state, harness::Backend& backend, Pool& pool, int n, bool last,
          const RampLimits& limits, bool to_budget = false) {
  if (pool.instances.empty() && pool.baseline_available == 0) {
    auto settled = ReadSettledAvailable();
    pool.baseline_available = settled.ok() ? settled->median : 0;
    pool.baseline_spread = settled.ok() ? settled->spread : 0;
    auto own = harness::ProcessPssBytes(::getpid());
    pool.baseline_harness_pss = own.ok() ? *own : 0;
  }
  // A step to the budget that starts nothing (the budget passed exactly at the last
  // fixed step) is measured at the same N-th instance as that step.
  double nth_ready = pool.last_ready;
  std::vector<double> step_ready;  // every start of this step
  while (pool.failure.empty() && !pool.budget_reached && pool.ceiling_reached.empty() &&
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
    pool.last_ready = nth_ready;
    step_ready.push_back(nth_ready);
    pool.instances.push_back(std::move(*instance));
    if (limits.latency_ceiling_s > 0 && nth_ready > limits.latency_ceiling_s)
      pool.ceiling_reached =
          "latency ceiling reached at n=" + std::to_string(pool.instances.size()) +
          ": its start took " + std::to_string(static_cast<int>(nth_ready * 1e3)) + " ms, over " +
          std::to_string(static_cast<int>(limits.latency_ceiling_s * 1e3)) + " ms";
    // The budget is passed when the drop from the baseline, read the way the baseline
    // was (MemAvailable and the per-CPU free lists, settled), exceeds it: a quick read
    // nominates, a settled one confirms, so a transient dip does not end the ramp.
    auto over_budget = [&](uint64_t available) {
      return pool.baseline_available > available &&
             pool.baseline_available - available > limits.budget_bytes;
    };
    auto available = ReadAvailable();
    if (available.ok() && over_budget(*available)) {
      auto settled = ReadSettledAvailable();
      if (settled.ok() && over_budget(settled->median)) {
        pool.budget_reached = true;
        pool.budget_reached_at = pool.instances.size();
        pool.budget_stop_delta = pool.baseline_available - settled->median;
      }
    }
    if (pool.instances.size() % 100 == 0 && n >= 200)
      std::cerr << "isobench: density " << backend.name() << ": " << pool.instances.size() << " of "
                << n << " instances running\n";
  }
  bool reached = static_cast<int>(pool.instances.size()) >= n ||
                 (to_budget && pool.budget_reached && pool.failure.empty() &&
                  pool.ceiling_reached.empty() && !pool.instances.empty());
  if (!pool.failure.empty() || !reached) {
    for (auto _ : state) {
      std::string why = !pool.failure.empty()           ? pool.failure
                        : !pool.ceiling_reached.empty() ? pool.ceiling_reached
                                                        : BudgetStop(pool, limits);
      state.SkipWithError((backend.name() + ": " + why).c_str());
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
      // The count measured: the step's N, or for a step to the budget what it allowed
      // (budget_reached says which; the cap came first when it is 0).
      n = static_cast<int>(pool.instances.size());
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
      // The drop that stopped the ramp; mem_available_delta_bytes, read again after
      // every instance was measured, can be lower (memory the guests gave back since).
      if (pool.budget_reached)
        state.counters["budget_stop_delta_bytes"] = static_cast<double>(pool.budget_stop_delta);
      // The starts of this step (the instances from the last step's N to this one's):
      // how start latency degrades as the host fills.
      if (!step_ready.empty()) {
        state.counters["step_starts"] = static_cast<double>(step_ready.size());
        state.counters["step_ready_p50_s"] = Quantile(step_ready, 0.50);
        state.counters["step_ready_p99_s"] = Quantile(step_ready, 0.99);
      }
    }
  }
  if (last || !pool.failure.empty() || !reached) {
    // The whole pool torn down, timed: at the last step it is part of that step's row.
    const size_t torn = pool.instances.size();
    auto t0 = harness::Clock::now();
    pool.instances.clear();
    double seconds = harness::SecondsBetween(t0, harness::Clock::now());
    if (reached && torn > 0) {
      state.counters["teardown_s"] = seconds;
      state.counters["teardown_per_instance_s"] = seconds / static_cast<double>(torn);
    }
  }
}

// One ramp of `backend` through `steps`, one benchmark per step named `prefix`n:<N>, run
// in order on one pool of instances that the last step tears down.
// With `to_budget` the last step, named `prefix`budget/n:<cap>, ramps on until the memory
// budget stops it (or the cap), and is measured there.
void RegisterRamp(BenchSession& bench, harness::Backend& backend, const std::string& prefix,
                  const std::vector<int>& steps, const RampLimits& limits, bool to_budget = false) {
  auto pool = std::make_shared<Pool>();
  harness::Backend* b = &backend;
  for (size_t i = 0; i < steps.size(); ++i) {
    int n = steps[i];
    bool last = i + 1 == steps.size();
    bool budget_step = to_budget && last;
    bench
        .Register(prefix + (budget_step ? "budget/n:" : "n:") + std::to_string(n),
                  [b, pool, n, last, limits, budget_step](benchmark::State& state) {
                    Step(state, *b, *pool, n, last, limits, budget_step);
                  })
        ->Iterations(1)
        ->UseManualTime()
        ->Unit(backend.traits().slow_start ? benchmark::kSecond : benchmark::kMillisecond);
  }
}

}  // namespace

void RegisterDensity(BenchSession& bench) {
  const DensityConfig& config = bench.suite.density;
  if (!config.enabled) return;
  auto limits_of = [&config](const harness::Backend& backend) {
    RampLimits limits;
    limits.budget_bytes = static_cast<uint64_t>(config.memory_budget_mib) << 20;
    limits.latency_ceiling_s =
        (backend.traits().slow_start ? config.vm_latency_ceiling_ms : config.latency_ceiling_ms) /
        1e3;
    return limits;
  };
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
      RegisterRamp(bench, *backend, "Density/" + name + "/", steps, limits_of(*backend));
    }
  }
  // The long ramp: one backend at a time from an empty host to ramp_max instances (a
  // thousand native containers), in rounds of its own after the gated ramps, its rows
  // Density/<backend>/ramp/n:<N>.
  if (config.ramp_max_instances <= 0 && config.vm_ramp_max_instances <= 0) return;
  // The harness holds a few descriptors per live instance (agent channel, log, pidfd,
  // and a native container's cgroup directory in each of its hierarchies):
  // a thousand of them need more than the usual soft limit of 1024. Up to the hard
  // limit; past that the ramp stops at EMFILE and says so.
  struct rlimit files;
  if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &files) != 0)
      std::cerr << "isobench: density: cannot raise the open-file limit: " << std::strerror(errno)
                << "\n";
  }
  for (int round = 0; round < config.ramp_rounds; ++round) {
    for (harness::Backend* backend : bench.AllRows()) {
      std::string name = backend->name();
      if (std::find(config.ramp_backends.begin(), config.ramp_backends.end(), name) ==
          config.ramp_backends.end())
        continue;
      // A VM ramp goes through its steps, then on to the memory budget (capped at
      // vm_ramp_max_instances): as many VMs as the budget allows.
      bool slow = backend->traits().slow_start;
      int max = slow ? config.vm_ramp_max_instances : config.ramp_max_instances;
      if (max <= 0) {
        std::cerr << "isobench: density: " << name << " is in ramp_backends but "
                  << (slow ? "vm_ramp_max_instances" : "ramp_max_instances")
                  << " is 0: no long ramp for it\n";
        continue;
      }
      std::vector<int> steps;
      for (int n : slow ? config.vm_ramp_steps : config.ramp_steps)
        if (n < max) steps.push_back(n);
      if (!slow && (steps.empty() || steps.back() != max)) steps.push_back(max);
      if (slow) steps.push_back(max);
      RegisterRamp(bench, *backend, "Density/" + name + "/ramp/", steps, limits_of(*backend), slow);
    }
  }
}

}  // namespace isobench::bench
