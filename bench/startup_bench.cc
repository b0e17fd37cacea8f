// Startup: create -> agent ready, and destroy, on every usable backend, with the
// host's fork+exec of the same agent as the floor.
//
// One iteration is one instance: the manual time is create->ready on the host clock
// (DESIGN.md timing rules); counters carry the destroy time and each phase boundary
// (seconds since the create request), so the report can stack the phases.
#include <benchmark/benchmark.h>

#include <atomic>
#include <iostream>

#include "bench/bench_main.h"
#include "harness/host_backend.h"
#include "harness/interrupt.h"
#include "harness/log.h"

namespace isobench::bench {
namespace {

std::atomic<int> g_instance_counter{0};

// One create/ready/destroy; false (and the benchmark skipped with the reason) on error.
bool OneStart(benchmark::State& state, harness::Backend& backend, const std::string& backend_name) {
  if (harness::Interrupted()) {
    state.SkipWithError("interrupted by a signal");
    return false;
  }
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

void Register(BenchSession& bench) {
  int fast_reps = bench.flags.repetitions > 0 ? bench.flags.repetitions : (bench.flags.quick ? 10 : 30);
  int slow_reps = bench.flags.vm_repetitions > 0 ? bench.flags.vm_repetitions : (bench.flags.quick ? 2 : 5);

  std::vector<harness::Backend*> rows;
  static harness::HostBackend host(bench.context);
  rows.push_back(&host);
  for (auto& b : bench.session.backends) rows.push_back(b.get());

  for (harness::Backend* backend : rows) {
    std::string name = backend->name();
    bool slow = IsSlowBackend(name);
    // Warm-up, discarded: the first start pays for cold page cache and lazy set-up.
    {
      harness::InstanceSpec warm;
      warm.name = "warmup-" + name;
      auto instance = backend->Create(warm);
      if (!instance.ok())
        std::cerr << "isobench: warm-up on " << name << " failed: " << instance.error().message()
                  << "\n";
    }
    benchmark::RegisterBenchmark(("Startup/" + name + "/ready").c_str(),
                                 [backend, name](benchmark::State& state) {
                                   for (auto _ : state)
                                     if (!OneStart(state, *backend, name)) break;
                                 })
        ->Iterations(1)
        ->Repetitions(slow ? slow_reps : fast_reps)
        ->UseManualTime()
        ->Unit(slow ? benchmark::kSecond : benchmark::kMillisecond);
  }
}

}  // namespace
}  // namespace isobench::bench

int main(int argc, char** argv) { return isobench::bench::Main(argc, argv, isobench::bench::Register); }
