// Overhead: where each isolation technology's costs come from. The agent runs a
// syscall loop, a page-fault loop and a memcpy loop inside one long-lived instance per
// backend; the host reference row runs the same agent unisolated.
//
// The manual time is the guest-measured time per operation (per syscall, per fault, per
// byte copied x 2^20 for bandwidth), so ratios to the host row are the overhead.
#include <benchmark/benchmark.h>

#include <algorithm>

#include "bench/families.h"
#include "bench/rounds.h"
#include "harness/interrupt.h"

namespace isobench::bench {
namespace {

struct Kind {
  const char* name;
  const char* rate_key;
};

// The iteration time it set (seconds per operation), or 0 if it failed.
double Measure(benchmark::State& state, BenchSession& bench, harness::Backend& backend,
               const std::string& kind) {
  double seconds = 0;
  const OverheadConfig& config = bench.suite.overhead;
  // After SIGINT or SIGTERM no instance is made (a VM would boot) and nothing is measured.
  auto instance =
      harness::Interrupted()
          ? harness::Result<harness::Instance*>(harness::Error("interrupted by a signal"))
          : bench.SharedInstance(backend);
  for (auto _ : state) {
    if (!instance.ok()) {
      state.SkipWithError((backend.name() + ": " + instance.error().message()).c_str());
      break;
    }
    nlohmann::json request = {{"op", "bench"}, {"kind", kind}};
    if (kind == "syscall") request["iterations"] = config.syscall_iterations;
    if (kind == "page_faults") request["pages"] = config.page_fault_pages;
    if (kind == "memory_bandwidth") {
      request["bytes"] = static_cast<int64_t>(config.bandwidth_bytes_mib) << 20;
      request["rounds"] = 4;
    }
    auto reply = (*instance)->Call(request, std::chrono::minutes(5));
    if (!reply.ok()) {
      state.SkipWithError((backend.name() + ": " + reply.error().message()).c_str());
      break;
    }
    if (kind == "memory_bandwidth") {
      double bps = (*reply)["bytes_per_s"].get<double>();
      seconds = static_cast<double>(1 << 20) / bps;  // seconds per MiB
      state.SetIterationTime(seconds);
      state.counters["bytes_per_s"] = bps;
    } else {
      double ns = (*reply)["ns_per_op"].get<double>();
      seconds = ns * 1e-9;
      state.SetIterationTime(seconds);
      state.counters["ns_per_op"] = ns;
      if (kind == "page_faults")
        state.counters["faults_per_s"] = (*reply)["faults_per_s"].get<double>();
    }
  }
  return seconds;
}

}  // namespace

void RegisterOverhead(BenchSession& bench) {
  const OverheadConfig& config = bench.suite.overhead;
  if (!config.enabled) return;
  // Interleaved rounds: round r runs every kind once on every backend, then the round's
  // ratios to the host row. One record per round and row.
  auto book = std::make_shared<RoundBook>();
  // The floor every row is divided by: the unisolated host, when startup added it.
  harness::Backend* host = nullptr;
  for (harness::Backend* b : bench.AllRows())
    if (b->traits().kind == harness::BackendTraits::Kind::kHost) host = b;
  auto in_round = [&config](harness::Backend* backend, int round) {
    return backend->traits().kind != harness::BackendTraits::Kind::kVm || round < config.VmRounds();
  };
  for (int round = 0; round < config.rounds; ++round) {
    for (harness::Backend* backend : bench.AllRows()) {
      if (!in_round(backend, round)) continue;
      // After its last round a backend's instance goes: an idle guest would run beside
      // the rounds and families that follow.
      const bool last_round = !in_round(backend, round + 1) || round + 1 == config.rounds;
      for (const char* kind : {"syscall", "page_faults", "memory_bandwidth"}) {
        std::string k = kind;
        std::string run = "Overhead/" + backend->name() + "/" + k;
        const bool release = last_round && k == "memory_bandwidth";
        bench
            .Register(run,
                      [&bench, backend, k, book, run, round, release](benchmark::State& state) {
                        double value = Measure(state, bench, *backend, k);
                        if (value > 0) book->Put(run, round, value);
                        if (release) bench.ReleaseSharedInstance(backend->name());
                      })
            ->Iterations(1)
            ->UseManualTime()
            ->Unit(benchmark::kNanosecond);
      }
    }
    for (harness::Backend* backend : bench.AllRows()) {
      if (!host || backend == host || !in_round(backend, round)) continue;
      for (const char* kind : {"syscall", "page_faults", "memory_bandwidth"}) {
        std::string k = kind;
        std::string floor = host->name();
        RegisterRatio(bench, book, "Overhead/" + backend->name() + "/" + k,
                      "Overhead/" + floor + "/" + k, round,
                      RatioName(backend->name(), "Overhead:" + k, floor));
      }
    }
  }
}

}  // namespace isobench::bench
