// Overhead: where each isolation technology's costs come from. The agent runs a
// syscall loop, a page-fault loop and a memcpy loop inside one long-lived instance per
// backend; the host reference row runs the same agent unisolated.
//
// The manual time is the guest-measured time per operation (per syscall, per fault, per
// byte copied x 2^20 for bandwidth), so ratios to the host row are the overhead.
#include <benchmark/benchmark.h>

#include "bench/families.h"

namespace isobench::bench {
namespace {

struct Kind {
  const char* name;
  const char* rate_key;
};

void Measure(benchmark::State& state, BenchSession& bench, harness::Backend& backend,
             const std::string& kind) {
  const OverheadConfig& config = bench.suite.overhead;
  auto instance = bench.SharedInstance(backend);
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
      state.SetIterationTime(static_cast<double>(1 << 20) / bps);  // seconds per MiB
      state.counters["bytes_per_s"] = bps;
    } else {
      double ns = (*reply)["ns_per_op"].get<double>();
      state.SetIterationTime(ns * 1e-9);
      state.counters["ns_per_op"] = ns;
      if (kind == "page_faults") state.counters["faults_per_s"] = (*reply)["faults_per_s"].get<double>();
    }
  }
}

}  // namespace

void RegisterOverhead(BenchSession& bench) {
  const OverheadConfig& config = bench.suite.overhead;
  if (!config.enabled) return;
  for (harness::Backend* backend : bench.AllRows()) {
    for (const char* kind : {"syscall", "page_faults", "memory_bandwidth"}) {
      std::string k = kind;
      bench.Register("Overhead/" + backend->name() + "/" + k,
                                   [&bench, backend, k](benchmark::State& state) {
                                     Measure(state, bench, *backend, k);
                                   })
          ->Iterations(1)
          ->Repetitions(config.repetitions)
          ->UseManualTime()
          ->Unit(benchmark::kNanosecond);
    }
  }
}

}  // namespace isobench::bench
