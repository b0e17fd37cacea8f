// Shared start-up for isobench's Google Benchmark programs: isobench flags are taken
// out of argv before benchmark::Initialize sees it, a Session is opened, and the
// environment goes into the JSON "context" so every result says what produced it.
//
//   int main(int argc, char** argv) {
//     return isobench::bench::Main(argc, argv, [](BenchSession& s) { Register(s); });
//   }
#pragma once

#include <benchmark/benchmark.h>

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "bench/suite_config.h"
#include "harness/backend.h"
#include "harness/session.h"

namespace isobench::bench {

struct BenchFlags {
  std::string backends = "all";
  std::string workdir = "/var/lib/isobench";
  std::string kernel;
  std::string vm_uri;
  std::string vm_accel;
  std::string suite;  // suite file; empty: bench/suites/{default,quick}.toml
  bool quick = false;
  int repetitions = 0;     // overrides startup.repetitions when > 0
  int vm_repetitions = 0;  // overrides startup.vm_repetitions when > 0
  // > 1: run one of this many blocks of the suite's rounds (each rounds count divided,
  // rounded up). `isobench ab` alternates blocks of two builds or configurations and
  // pools the records, so host drift falls on both sides.
  int rounds_split = 1;
};

struct BenchSession {
  BenchFlags flags;
  SuiteConfig suite;
  harness::Session session;
  harness::BackendContext context;  // for reference rows (host) built outside the registry
  // Reference rows: backends that are not isolation technologies under test but show
  // the floor (host) or the competition (runc, qemu-raw). Benchmarks add them where
  // they make sense.
  std::vector<std::unique_ptr<harness::Backend>> references;
  // Backends that are only ever references (qemu-raw), never "every backend": startup
  // finds the VM floor among them by its traits.
  const harness::BackendRegistry* reference_registry = nullptr;
  // Run after the benchmarks, before any backend is destroyed.
  std::vector<std::function<void()>> cleanups;
  // Benchmarks registered through Register(), for progress display.
  size_t registered = 0;

  // benchmark::RegisterBenchmark, counted.
  template <typename Fn>
  benchmark::internal::Benchmark* Register(const std::string& name, Fn&& fn) {
    ++registered;
    return benchmark::RegisterBenchmark(name.c_str(), std::forward<Fn>(fn));
  }

  // Every backend under test, then the references.
  std::vector<harness::Backend*> AllRows();
  // One long-lived instance per backend, created on first use and destroyed when the
  // program ends: VMs under TCG take seconds to boot, so families share it.
  harness::Result<harness::Instance*> SharedInstance(harness::Backend& backend);
  void DestroySharedInstances();
  // A backend of `name` (from the session's registry) made for an image of its own: the
  // session's guest image plus `extra_binaries` (copied in with their libraries) and,
  // when a guest kernel boots it, `extra_modules`. The I/O and network families run
  // their tools (fio; iperf3, sockperf) in instances of such a backend.
  harness::Result<std::unique_ptr<harness::Backend>> MakeBackendWithTools(
      const std::string& name, const std::vector<std::string>& extra_binaries,
      const std::vector<std::string>& extra_modules = {});
  // Destroys one backend's shared instance once its family is done with it, so that an
  // idle guest does not run beside the measurements that follow.
  void ReleaseSharedInstance(const std::string& backend_name);
  // Puts the row's traits into the JSON context, once per name: backend.<name>.kind
  // (host|container|vm), .role (product|reference|floor), .reference (true|false).
  void RecordTraits(const harness::Backend& backend) {
    RecordTraits(backend.name(), backend.traits());
  }
  // For a row measured without a Backend object (the host's own file system).
  void RecordTraits(const std::string& name, const harness::BackendTraits& traits);

 private:
  std::map<std::string, std::unique_ptr<harness::Instance>> shared_;
  std::set<std::string> recorded_;
};

// A row the suite asked for that cannot run (its backend cannot start, the registry does
// not answer): it fails with the reason, and never vanishes from the results.
void RegisterFailingRow(BenchSession& bench, const std::string& row, const std::string& why);

// Once SIGINT or SIGTERM has come, a row measures nothing more: this skips the row with
// that reason and returns true.
bool SkippedOnInterrupt(benchmark::State& state);

// Takes the suite's own flags (--backends, --workdir, --kernel, --vm-uri, --vm-accel,
// --suite, --quick, --repetitions, --vm-repetitions, --rounds-split; `--name=value` or
// `--name value`) out of argv, leaving the rest (Google Benchmark's) in order. A bad
// value (--repetitions=0, --repetitions=many) is EINVAL naming the flag; --help prints
// the flags and is ECANCELED.
harness::Result<BenchFlags> ParseBenchFlags(int* argc, char** argv);

// Divides every rounds count of `suite` by `split`, rounded up (at least 1 where it was).
void SplitRounds(SuiteConfig& suite, int split);

// The exit status: 0, harness::kExitBenchRowsErrored, 1 or 128+N (bench_results.h).
int Main(int argc, char** argv, const std::function<void(BenchSession&)>& register_benchmarks);

}  // namespace isobench::bench
