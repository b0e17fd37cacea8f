#include "bench/bench_main.h"

#include <benchmark/benchmark.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <set>

#include "harness/bench_results.h"
#include "harness/bridge.h"
#include "harness/cli/builtin_backends.h"
#include "harness/empty_flag_values.h"
#include "harness/interrupt.h"

namespace isobench::bench {

harness::Result<BenchFlags> ParseBenchFlags(int* argc, char** argv) {
  BenchFlags flags;
  CLI::App app{
      "isobench_bench: the benchmark suite (Google Benchmark); its --benchmark_* "
      "flags pass through (--benchmark_list_tests, --benchmark_filter=REGEX, "
      "--benchmark_out=FILE, ...)",
      "isobench_bench"};
  app.allow_extras();  // Google Benchmark's flags, in their order
  app.add_option("--backends", flags.backends, "comma-separated backends, or all");
  app.add_option("--workdir", flags.workdir, "images, rootfs and instance state");
  app.add_option("--kernel", flags.kernel, "guest kernel (default: the host's)");
  app.add_option("--vm-uri", flags.vm_uri, "libvirt URI");
  app.add_option("--vm-accel", flags.vm_accel, "kvm, tcg or auto");
  app.add_option("--suite", flags.suite, "suite file (default: bench/suites/default.toml)");
  app.add_flag("--quick", flags.quick, "the quick suite (bench/suites/quick.toml)");
  app.add_option("--repetitions", flags.repetitions, "serial starts per backend")
      ->check(CLI::Range(1, 100000));
  app.add_option("--vm-repetitions", flags.vm_repetitions, "serial starts per VM backend")
      ->check(CLI::Range(1, 100000));
  app.add_option("--rounds-split", flags.rounds_split,
                 "run one of this many blocks of every family's rounds")
      ->check(CLI::Range(1, 100000));
  std::vector<char*> args = harness::TakeEmptyFlagValues(*argc, argv,
                                                         {{"--backends", &flags.backends},
                                                          {"--workdir", &flags.workdir},
                                                          {"--kernel", &flags.kernel},
                                                          {"--vm-uri", &flags.vm_uri},
                                                          {"--vm-accel", &flags.vm_accel},
                                                          {"--suite", &flags.suite}});
  try {
    app.parse(static_cast<int>(args.size()), args.data());
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return harness::Error("help", ECANCELED);
  } catch (const CLI::ParseError& e) {
    return harness::Error(e.what(), EINVAL);
  }
  harness::KeepRemaining(app.remaining(), argc, argv);
  return flags;
}

}  // namespace isobench::bench

namespace isobench::bench {

std::vector<harness::Backend*> BenchSession::AllRows() {
  std::vector<harness::Backend*> rows;
  for (auto& b : session.backends) rows.push_back(b.get());
  for (auto& b : references) rows.push_back(b.get());
  return rows;
}

namespace {

// The console table, and what the exit status needs: every errored row with its
// message. On a terminal also a status line on stderr after every benchmark: what ran,
// how many of the registered benchmarks are done, and an estimate of the time left from
// the mean time per benchmark so far (off a terminal, in CI logs, nothing extra).
class SuiteReporter : public benchmark::ConsoleReporter {
 public:
  // Colours only on a terminal, as Google Benchmark's own default display.
  SuiteReporter(size_t total, bool progress)
      : benchmark::ConsoleReporter(::isatty(STDOUT_FILENO) ? OO_ColorTabular : OO_None),
        total_(total),
        progress_(progress),
        start_(harness::Clock::now()) {}

  void ReportRuns(const std::vector<Run>& runs) override {
    benchmark::ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs)
      if (r.run_type == Run::RT_Iteration && r.error_occurred)
        errored_.emplace(r.run_name.str(), r.error_message);
    // One call per benchmark instance with its iterations, then one with aggregates.
    bool iterations = std::any_of(runs.begin(), runs.end(),
                                  [](const Run& r) { return r.run_type == Run::RT_Iteration; });
    if (!progress_ || !iterations) return;
    size_t done = std::min(++done_, total_);
    double elapsed = harness::SecondsBetween(start_, harness::Clock::now());
    double left =
        done ? elapsed / static_cast<double>(done) * static_cast<double>(total_ - done) : 0;
    std::fprintf(stderr, "\r\033[K[%zu/%zu benchmarks, %.0f s elapsed, ~%.0f s left] %s\n", done,
                 total_, elapsed, left, runs.empty() ? "" : runs.back().run_name.str().c_str());
  }

  // Row name -> its first error message.
  const std::map<std::string, std::string>& errored() const { return errored_; }

 private:
  size_t total_;
  bool progress_;
  harness::Clock::time_point start_;
  size_t done_ = 0;
  std::map<std::string, std::string> errored_;
};

}  // namespace

harness::Result<std::unique_ptr<harness::Backend>> BenchSession::MakeBackendWithTools(
    const std::string& name, const std::vector<std::string>& extra_binaries,
    const std::vector<std::string>& extra_modules) {
  harness::ImageOptions image_options;
  image_options.workdir = context.workdir;
  image_options.agent_binary = harness::DefaultAgentPath();
  image_options.want_vm = !session.image.kernel.empty();
  image_options.modules = session.image_modules;
  image_options.modules.insert(image_options.modules.end(), extra_modules.begin(),
                               extra_modules.end());
  image_options.extra_binaries = extra_binaries;
  ISO_ASSIGN_OR_RETURN(harness::GuestImage image, harness::BuildImage(image_options));
  harness::BackendContext backend_context = context;
  backend_context.image = std::move(image);
  return session.registry->Make(name, backend_context);
}

harness::Result<harness::Instance*> BenchSession::SharedInstance(harness::Backend& backend) {
  auto it = shared_.find(backend.name());
  if (it != shared_.end()) return it->second.get();
  harness::InstanceSpec spec;
  spec.name = "shared-" + backend.name();
  spec.memory_bytes = 512ull << 20;
  ISO_ASSIGN_OR_RETURN(auto instance, backend.Create(spec));
  harness::Instance* raw = instance.get();
  shared_[backend.name()] = std::move(instance);
  return raw;
}

void BenchSession::DestroySharedInstances() { shared_.clear(); }

void BenchSession::ReleaseSharedInstance(const std::string& backend_name) {
  shared_.erase(backend_name);
}

bool SkippedOnInterrupt(benchmark::State& state) {
  if (!harness::Interrupted()) return false;
  state.SkipWithError("interrupted by a signal");
  return true;
}

void RegisterFailingRow(BenchSession& bench, const std::string& row, const std::string& why) {
  bench
      .Register(row,
                [why](benchmark::State& state) {
                  for (auto _ : state) state.SkipWithError(why.c_str());
                })
      ->Iterations(1);
}

void BenchSession::RecordTraits(const std::string& name, const harness::BackendTraits& traits) {
  if (!recorded_.insert(name).second) return;
  std::string key = "backend." + name;
  benchmark::AddCustomContext(key + ".kind", std::string(harness::KindName(traits.kind)));
  benchmark::AddCustomContext(key + ".role", std::string(harness::RoleName(traits.role)));
  benchmark::AddCustomContext(key + ".reference", traits.reference() ? "true" : "false");
}

void SplitRounds(SuiteConfig& suite, int split) {
  if (split <= 1) return;
  auto part = [split](int& rounds) {
    if (rounds > 0) rounds = (rounds + split - 1) / split;
  };
  part(suite.startup.repetitions);
  part(suite.startup.vm_repetitions);
  part(suite.startup.parallel_rounds);
  part(suite.startup.vm_parallel_rounds);
  part(suite.density.rounds);
  part(suite.density.vm_rounds);
  part(suite.overhead.rounds);
  part(suite.overhead.vm_rounds);
  part(suite.io.rounds);
  part(suite.io.vm_rounds);
  part(suite.net.rounds);
  part(suite.net.vm_rounds);
  part(suite.isolation.rounds);
  part(suite.isolation.vm_rounds);
}

int Main(int argc, char** argv, const std::function<void(BenchSession&)>& register_benchmarks) {
  ::signal(SIGPIPE, SIG_IGN);
  harness::InstallInterruptHandlers();
  BenchSession bench;
  auto flags = ParseBenchFlags(&argc, argv);
  if (!flags.ok()) {
    if (flags.error().errno_value() == ECANCELED) return 0;  // --help
    std::cerr << "isobench_bench: error: " << flags.error().message() << "\n";
    return 2;
  }
  bench.flags = std::move(*flags);
  // Off a terminal (CI), print only the aggregates of repeated benchmarks; the JSON
  // file still gets every repetition.
  std::vector<char*> args(argv, argv + argc);
  std::string aggregates_only = "--benchmark_display_aggregates_only=true";
  if (!::isatty(STDOUT_FILENO)) args.insert(args.begin() + 1, aggregates_only.data());
  argc = static_cast<int>(args.size());
  args.push_back(nullptr);
  argv = args.data();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;

  std::string suite_path = bench.flags.suite;
  if (suite_path.empty())
    suite_path =
        std::string(ISOBENCH_SUITES_DIR) + (bench.flags.quick ? "/quick.toml" : "/default.toml");
  auto suite = LoadSuiteConfig(suite_path);
  if (!suite.ok()) {
    std::cerr << "isobench: error: " << suite.error().message() << "\n";
    return 1;
  }
  bench.suite = std::move(*suite);
  // Before any backend makes the bridge (validated by the suite's parser).
  for (auto set : {harness::SetBridgeSubnet(bench.suite.net.subnet),
                   harness::SetDockerSubnet(bench.suite.net.docker_subnet)}) {
    if (!set.ok()) {
      std::cerr << "isobench: error: " << set.error().message() << "\n";
      return 1;
    }
  }
  if (bench.flags.repetitions > 0) bench.suite.startup.repetitions = bench.flags.repetitions;
  if (bench.flags.vm_repetitions > 0)
    bench.suite.startup.vm_repetitions = bench.flags.vm_repetitions;
  SplitRounds(bench.suite, bench.flags.rounds_split);

  harness::SessionOptions options;
  options.workdir = bench.flags.workdir;
  options.backends = harness::SplitList(bench.flags.backends);
  options.kernel = bench.flags.kernel;
  if (!bench.flags.vm_uri.empty()) options.backend_options["vm.uri"] = bench.flags.vm_uri;
  if (!bench.flags.vm_accel.empty()) options.backend_options["vm.accel"] = bench.flags.vm_accel;
  auto session = harness::OpenSession(options, harness::BuiltinBackends());
  if (!session.ok()) {
    std::cerr << "isobench: error: " << session.error().message() << "\n";
    return 1;
  }
  bench.session = std::move(*session);
  bench.reference_registry = &harness::ReferenceBackends();
  bench.context.workdir = options.workdir;
  bench.context.image = bench.session.image;
  bench.context.run_id = bench.session.run_id;
  bench.context.options = options.backend_options;

  for (auto& [k, v] : bench.session.environment) benchmark::AddCustomContext(k, v);
  for (const auto& u : bench.session.unusable)
    benchmark::AddCustomContext("backend." + u.name + ".unusable", u.reason);
  for (auto& backend : bench.session.backends) bench.RecordTraits(*backend);
  benchmark::AddCustomContext("suite.file", bench.suite.source);
  benchmark::AddCustomContext("suite.profile", bench.flags.quick ? "quick" : "default");
  const SuiteConfig& c = bench.suite;
  benchmark::AddCustomContext(
      "bench.rounds",
      "interleaved rounds (every backend once per round; one record per round and row): "
      "startup " +
          std::to_string(c.startup.repetitions) + " (VMs " +
          std::to_string(c.startup.vm_repetitions) + "), parallel " +
          std::to_string(c.startup.parallel_rounds) + " (VMs " +
          std::to_string(c.startup.vm_parallel_rounds) + "), density " +
          std::to_string(c.density.rounds) + " (VMs " + std::to_string(c.density.vm_rounds) +
          "), overhead " + std::to_string(c.overhead.rounds) + " (VMs " +
          std::to_string(c.overhead.VmRounds()) + "), io " + std::to_string(c.io.rounds) +
          " (VMs " + std::to_string(c.io.VmRounds()) + ")");
  // One measurement is one test: the gate judges a record by its time. Counters are
  // either derived from the same measurement (iops, bw_bytes_per_s, lat_p50_s,
  // lat_p99_s of a fio job; ns_per_op, faults_per_s, bytes_per_s of an overhead call;
  // single_median_s, single_max_s of a parallel batch) or further facts (phases,
  // destroy_s, memory), never a second test of the same run.
  benchmark::AddCustomContext("bench.primary_metric", "time");
  benchmark::AddCustomContext(
      "bench.ratio_rows",
      "Ratio/<backend>/<Family>:<case>/vs:<reference>: the row's time over the reference "
      "row's time in the same round (unitless, in the time field, lower is better)");

  register_benchmarks(bench);
  SuiteReporter reporter(bench.registered, ::isatty(STDERR_FILENO) && ::isatty(STDOUT_FILENO));
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  // Instances, then the backends that made them, are destroyed before exit.
  for (auto& cleanup : bench.cleanups) cleanup();
  bench.DestroySharedInstances();
  bench.references.clear();
  bench.session.backends.clear();
  if (harness::Interrupted()) return 128 + harness::InterruptSignal();
  if (!reporter.errored().empty()) {
    const auto& [row, message] = *reporter.errored().begin();
    std::cerr << "isobench: error: " << reporter.errored().size() << " benchmark row"
              << (reporter.errored().size() == 1 ? "" : "s")
              << " errored (their error_message is in the JSON); first: " << row << ": "
              << message.substr(0, message.find('\n')) << "\n";
    return harness::kExitBenchRowsErrored;
  }
  return 0;
}

}  // namespace isobench::bench
