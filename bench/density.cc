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
#include <iostream>
#include <memory>
#include <vector>

#include "bench/families.h"
#include "harness/interrupt.h"
#include "harness/procfs.h"

namespace isobench::bench {
namespace {

struct Pool {
  std::vector<std::unique_ptr<harness::Instance>> instances;
  uint64_t baseline_available = 0;
  uint64_t baseline_harness_pss = 0;  // this process, before the first instance
  bool budget_reached = false;
  std::string failure;
};

void Step(benchmark::State& state, harness::Backend& backend, Pool& pool, int n, bool last,
          uint64_t budget_bytes) {
  if (pool.instances.empty() && pool.baseline_available == 0) {
    auto available = harness::MemAvailableBytes();
    pool.baseline_available = available.ok() ? *available : 0;
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
      uint64_t pss = 0, guest = 0;
      int answering = 0;
      for (auto& instance : pool.instances) {
        auto usage = instance->Usage();
        if (usage.ok()) {
          pss += usage->pss_bytes;
          guest += usage->guest_memory_bytes;
        }
        if (instance->Call({{"op", "ping"}}, std::chrono::seconds(10)).ok()) ++answering;
      }
      auto available = harness::MemAvailableBytes();
      double delta = available.ok() && pool.baseline_available > *available
                         ? static_cast<double>(pool.baseline_available - *available)
                         : 0.0;
      state.counters["n"] = n;
      state.counters["pss_per_instance_bytes"] = static_cast<double>(pss) / n;
      state.counters["guest_memory_per_instance_bytes"] = static_cast<double>(guest) / n;
      state.counters["mem_available_delta_per_instance_bytes"] = delta / n;
      state.counters["mem_available_delta_bytes"] = delta;
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
