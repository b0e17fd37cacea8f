// isobench: provision containers and VMs on this host, benchmark them side by side,
// check their isolation, and report.
//
//   isobench backends                 which backends are usable here, and why not
//   isobench run [--quick|--suite F] a suite (default, quick or F) on every usable backend,
//                                     then the report
//   isobench cleanup                  remove what a crashed run left behind
//   isobench soak --cycles 1000       create/destroy cycles; fail on any leak
//   isobench image [--kind l1-host]   build (or reuse) the guest image (or the nested
//                                     KVM host's, for ci/nested_kvm.sh)
//   isobench report --out DIR F.json  render result files
//   isobench compare BASE.json NEW.json   regression gate (exit 3 regression, 4 cannot judge)
//   isobench ab --a BASE_BUILD --b BUILD  same-host A/B of two builds, then the gate
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>

#include "bench/suite_config.h"
#include "harness/bench_results.h"
#include "harness/child_process.h"
#include "harness/cli/ab.h"
#include "harness/cli/builtin_backends.h"
#include "harness/cli/paths.h"
#include "harness/compare.h"
#include "harness/fd.h"
#include "harness/interrupt.h"
#include "harness/log.h"
#include "harness/run_owner.h"
#include "harness/session.h"
#include "harness/soak.h"

namespace isobench::harness {
namespace {

struct GlobalFlags {
  std::string workdir = "/var/lib/isobench";
  std::string log_level = "info";
  std::string kernel;
  std::string vm_uri;
  std::string vm_accel;
};

SessionOptions MakeSessionOptions(const GlobalFlags& flags, const std::string& backends) {
  SessionOptions options;
  options.workdir = flags.workdir;
  options.backends = SplitList(backends);
  options.kernel = flags.kernel;
  if (!flags.vm_uri.empty()) options.backend_options["vm.uri"] = flags.vm_uri;
  if (!flags.vm_accel.empty()) options.backend_options["vm.accel"] = flags.vm_accel;
  return options;
}

int Fail(const Error& error) {
  std::cerr << "isobench: error: " << error.message() << "\n";
  return 1;
}

int CmdBackends(const GlobalFlags& flags, bool as_json) {
  SessionOptions options = MakeSessionOptions(flags, "all");
  options.reclaim_stale = false;
  auto session = OpenSession(options, BuiltinBackends());
  nlohmann::json out = nlohmann::json::array();
  if (session.ok()) {
    for (auto& b : session->backends) {
      nlohmann::json facts = b->Describe();
      out.push_back({{"name", b->name()}, {"usable", true}, {"facts", facts}});
    }
    for (const auto& u : session->unusable)
      out.push_back(
          {{"name", u.name}, {"usable", false}, {"reason", u.reason}, {"absent", u.absent}});
  } else {
    return Fail(session.error());
  }
  if (as_json) {
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  for (auto& b : out) {
    std::cout << (b["usable"].get<bool>() ? "usable    " : "unusable  ")
              << b["name"].get<std::string>();
    if (!b["usable"].get<bool>()) std::cout << "  (" << b["reason"].get<std::string>() << ")";
    std::cout << "\n";
    if (b.contains("facts"))
      for (auto& [k, v] : b["facts"].items())
        std::cout << "          " << k << " = " << v.get<std::string>() << "\n";
  }
  return 0;
}

int CmdImage(const GlobalFlags& flags, const std::string& kind) {
  ImageOptions options;
  if (kind == "l1-host") {
    // Debian's kernel always: the minimal one has neither modules nor KVM.
    if (!flags.kernel.empty())
      return Fail(Error("an l1-host image runs Debian's kernel; --kernel does not apply", EINVAL));
    options = L1HostImageOptions(flags.workdir);
  } else {
    options.workdir = flags.workdir;
    options.agent_binary = DefaultAgentPath();
    options.kernel = flags.kernel;
  }
  auto image = BuildImage(options);
  if (!image.ok()) return Fail(image.error());
  std::cout << "image " << image->hash << "\n  rootfs    " << image->rootfs << "\n  initramfs "
            << image->initramfs << "\n  kernel    " << image->kernel << " ("
            << image->kernel_release << ")\n";
  return 0;
}

int CmdCleanup(const GlobalFlags& flags) {
  SessionOptions options = MakeSessionOptions(flags, "all");
  options.reclaim_stale = false;
  auto session = OpenSession(options, BuiltinBackends());
  if (!session.ok()) return Fail(session.error());
  int total = 0;
  for (auto& b : session->backends) {
    auto n = b->ReclaimStale();
    if (!n.ok()) return Fail(std::move(n).error().Context("cleanup of " + b->name()));
    std::cout << b->name() << ": reclaimed " << *n << "\n";
    total += *n;
  }
  auto scratch = ReclaimStaleScratch(flags.workdir, session->run_id);
  if (!scratch.ok()) return Fail(std::move(scratch).error().Context("cleanup of scratch"));
  std::cout << "scratch: reclaimed " << *scratch << "\n";
  total += *scratch;
  std::cout << "reclaimed " << total << " object(s)\n";
  return 0;
}

// The suite programs run from main()'s thread and die with us: a CI runner that
// SIGKILLs `isobench` on a timeout must not leave a benchmark creating instances.
ChildProcess::SpawnOptions SuiteProgram() {
  ChildProcess::SpawnOptions options;
  options.die_with_parent = true;
  return options;
}

int RunReport(const std::string& out_dir, const std::vector<std::string>& inputs) {
  std::vector<std::string> argv = {
      "/usr/bin/python3",      SourceDir() + "/reports/report.py", "--out", out_dir, "--module-dir",
      BinaryDir() + "/reports"};
  argv.insert(argv.end(), inputs.begin(), inputs.end());
  auto child = ChildProcess::Spawn(argv, SuiteProgram());
  if (!child.ok()) return Fail(child.error());
  auto status = child->Wait();
  if (!status.ok()) return Fail(status.error());
  if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
    std::cerr << "isobench: error: report generator " << DescribeWaitStatus(*status) << "\n";
    return 1;
  }
  return 0;
}

struct CompareFlags {
  std::string base, candidate, thresholds, json_out;
  double alpha = 0;  // 0: the thresholds file's
  bool cross_host = false;
  bool json = false;
};

// Exit codes: 0 every gated row judged and none regressed, 3 a regression, 4 a row
// that cannot be judged (compare.h), 1 an error.
int CmdCompare(const CompareFlags& flags) {
  ComparisonOptions options;
  options.thresholds_path = flags.thresholds;
  if (flags.alpha > 0) options.alpha = flags.alpha;
  options.cross_host = flags.cross_host;
  auto report = RunComparison(flags.base, flags.candidate, options);
  if (!report.ok()) return Fail(report.error());
  const nlohmann::json verdict = ComparisonToJson(*report);
  if (!flags.json_out.empty()) {
    if (auto w = WriteWholeFile(flags.json_out, verdict.dump(2) + "\n"); !w.ok())
      return Fail(w.error());
  }
  if (flags.json)
    std::cout << verdict.dump(2) << "\n";
  else
    std::cout << FormatComparison(*report);
  return report->ExitCode();
}

int CmdSoak(const GlobalFlags& flags, const std::string& backends, int cycles) {
  InstallInterruptHandlers();
  auto session = OpenSession(MakeSessionOptions(flags, backends), BuiltinBackends());
  if (!session.ok()) return Fail(session.error());
  bool clean = true;
  bool tty = ::isatty(STDERR_FILENO);
  for (auto& backend : session->backends) {
    SoakOptions options;
    options.cycles = cycles;
    if (backend->traits().slow_start) options.warmup_cycles = 1;
    options.progress = [&](int done, int total) {
      // Progress on a terminal only; CI logs get the summary.
      if (tty && (done % 10 == 0 || done == total))
        std::cerr << "\r" << backend->name() << ": " << done << "/" << total << " cycles"
                  << std::flush;
    };
    auto report = RunSoak(*backend, flags.workdir, options);
    if (tty) std::cerr << "\n";
    if (!report.ok()) return Fail(std::move(report).error().Context("soak of " + backend->name()));
    std::cout << backend->name() << ": " << report->cycles_done << " cycles in " << report->seconds
              << " s, " << report->failures << " failed, " << report->leaks.size()
              << " leaks, harness RSS " << report->rss_start_bytes / 1024 << " -> "
              << report->rss_end_bytes / 1024 << " KiB (growth " << report->rss_growth_bytes / 1024
              << " KiB, bound " << options.rss_bound_bytes / 1024 << " KiB)\n";
    for (const auto& leak : report->leaks) std::cout << "  leak: " << leak << "\n";
    if (report->failures) std::cout << "  first failure: " << report->first_failure << "\n";
    if (report->failures || !report->leaks.empty() ||
        report->rss_growth_bytes > static_cast<int64_t>(options.rss_bound_bytes) ||
        report->interrupted)
      clean = false;
  }
  return clean ? 0 : 1;
}

struct RunFlags {
  std::string backends = "all";
  std::string out;
  bool quick = false;
  std::string suite;  // a suite file of the user's; empty: the default or quick suite
  int repetitions = 0;
  int vm_repetitions = 0;
  bool conformance = true;
};

int CmdRun(const GlobalFlags& flags, const RunFlags& run) {
  if (!run.suite.empty()) {
    // A user's suite file is read before anything starts, so that a typo costs nothing.
    auto suite = bench::LoadSuiteConfig(run.suite);
    if (!suite.ok()) return Fail(std::move(suite).error());
  }
  // Validate everything (backends, image, kernel, libvirt) before the long part starts.
  auto session = OpenSession(MakeSessionOptions(flags, run.backends), BuiltinBackends());
  if (!session.ok()) return Fail(session.error());
  std::string usable;
  for (auto& b : session->backends) usable += (usable.empty() ? "" : ",") + b->name();
  for (const auto& u : session->unusable)
    std::cerr << "isobench: backend " << u.name << " skipped: " << u.reason << "\n";
  std::string out = run.out.empty() ? "results/" + session->run_id : run.out;
  if (auto r = MakeDirs(out); !r.ok()) return Fail(r.error());
  session->backends.clear();

  std::string suite_name = !run.suite.empty() ? "suite " + run.suite
                           : run.quick        ? std::string("quick suite")
                                              : std::string("default suite");
  std::cerr << "isobench: running the " << suite_name << " on " << usable << "; results in " << out
            << "\n";
  std::vector<std::string> argv = {
      BinaryDir() + "/bench/isobench_bench", "--backends=" + usable, "--workdir=" + flags.workdir,
      "--benchmark_out=" + out + "/bench.json", "--benchmark_out_format=json"};
  if (!flags.kernel.empty()) argv.push_back("--kernel=" + flags.kernel);
  if (!flags.vm_uri.empty()) argv.push_back("--vm-uri=" + flags.vm_uri);
  if (!flags.vm_accel.empty()) argv.push_back("--vm-accel=" + flags.vm_accel);
  if (run.quick) argv.push_back("--quick");
  if (!run.suite.empty()) argv.push_back("--suite=" + run.suite);
  if (run.repetitions > 0) argv.push_back("--repetitions=" + std::to_string(run.repetitions));
  if (run.vm_repetitions > 0)
    argv.push_back("--vm-repetitions=" + std::to_string(run.vm_repetitions));
  // The benchmark shares our process group, so a terminal's Ctrl-C reaches it directly;
  // a SIGTERM sent to us alone is passed on. Either way it stops cleanly and writes what
  // it has, and the report is still made from that.
  InstallInterruptHandlers();
  auto child = ChildProcess::Spawn(argv, SuiteProgram());
  if (!child.ok()) return Fail(child.error());
  bool forwarded = false;
  std::optional<int> status;
  while (!status) {
    auto waited = child->WaitFor(std::chrono::milliseconds(200));
    if (!waited.ok()) return Fail(waited.error());
    status = *waited;
    if (!status && Interrupted() && !forwarded) {
      (void)child->Signal(SIGTERM);
      forwarded = true;
    }
  }
  bool complete = WIFEXITED(*status) && WEXITSTATUS(*status) == 0;
  if (WIFEXITED(*status) && WEXITSTATUS(*status) == kExitBenchRowsErrored)
    std::cerr << "isobench: benchmark rows errored (above; the report marks them): the run "
                 "fails\n";
  else if (!complete)
    std::cerr << "isobench: benchmark suite " << DescribeWaitStatus(*status)
              << (Interrupted() ? " (interrupted)" : "") << "\n";
  if (::access((out + "/bench.json").c_str(), R_OK) != 0) {
    std::cerr << "isobench: error: no results were written\n";
    return 1;
  }
  std::vector<std::string> report_inputs = {out + "/bench.json"};
  if (run.conformance && !Interrupted()) {
    // The isolation probes on the same backends: a verdict per probe x backend, the
    // mutation score, JUnit XML; the report renders the matrix.
    std::cerr << "isobench: running the conformance suite on " << usable << "\n";
    std::vector<std::string> conf = {
        BinaryDir() + "/conformance/isobench_conformance", "--backends=" + usable,
        // The backends just benchmarked must be probed too:
        // absent or not starting, they fail, never skip.
        "--require=" + usable, "--workdir=" + flags.workdir,
        "--verdicts_out=" + out + "/conformance.json",
        "--gtest_output=xml:" + out + "/conformance-junit.xml", "--gtest_brief=1"};
    if (run.quick) {
      // The mutation analysis (every protection of the native runtime switched off in
      // turn, ~20 instances) is what makes the quick profile miss its two minutes. The
      // test suite runs it (the `conformance` CTest entry), and so does the default suite.
      std::cerr << "isobench: quick profile: mutation analysis skipped (run without --quick "
                   "for the mutation table)\n";
      conf.push_back("--mutation_backend=");
    }
    auto conf_child = ChildProcess::Spawn(conf, SuiteProgram());
    if (!conf_child.ok()) return Fail(conf_child.error());
    auto conf_status = conf_child->Wait();
    if (!conf_status.ok()) return Fail(conf_status.error());
    if (!WIFEXITED(*conf_status) || WEXITSTATUS(*conf_status) != 0) {
      std::cerr << "isobench: conformance suite " << DescribeWaitStatus(*conf_status)
                << " (failing probes are in the report)\n";
      complete = false;
    }
    if (::access((out + "/conformance.json").c_str(), R_OK) == 0)
      report_inputs.push_back(out + "/conformance.json");
  }
  if (int rc = RunReport(out + "/report", report_inputs); rc != 0) return rc;
  std::cout << "report: " << out << "/report/report.html\n";
  return complete ? 0 : 1;
}

}  // namespace
}  // namespace isobench::harness

int main(int argc, char** argv) {
  using namespace isobench::harness;
  ::signal(SIGPIPE, SIG_IGN);
  CLI::App app{"isobench: VMs and containers on one host, benchmarked and checked for isolation"};
  app.require_subcommand(1);
  // Global flags are accepted after the subcommand too (`isobench run --kernel minimal`).
  app.fallthrough();
  GlobalFlags flags;
  app.add_option("--workdir", flags.workdir, "State directory (images, instances)");
  app.add_option("--log-level", flags.log_level, "debug, info, warning or error");
  app.add_option("--kernel", flags.kernel,
                 "Guest kernel for VMs: a path, or `minimal` for the one vm/kernel/build.sh "
                 "builds (default: newest /boot/vmlinuz-*)");
  app.add_option("--vm-uri", flags.vm_uri, "libvirt URI (default qemu:///system)");
  app.add_option("--vm-accel", flags.vm_accel, "Force the VM accelerator: kvm or tcg");

  bool as_json = false;
  auto* backends = app.add_subcommand("backends", "List backends and whether they are usable here");
  backends->add_flag("--json", as_json, "Machine-readable output");

  auto* image = app.add_subcommand("image", "Build (or reuse) the guest image");
  std::string image_kind = "guest";
  image
      ->add_option("--kind", image_kind,
                   "guest (the agent as init), or l1-host (the nested KVM host of "
                   "ci/nested_kvm.sh)")
      ->check(CLI::IsMember({"guest", "l1-host"}));
  auto* cleanup = app.add_subcommand("cleanup", "Remove what crashed runs left behind");

  RunFlags run;
  auto* run_cmd = app.add_subcommand("run", "Run the benchmark suite and write a report");
  run_cmd->add_option("--backends", run.backends, "Comma-separated backends, or all");
  run_cmd->add_option("--out", run.out, "Results directory (default results/<run id>)");
  auto* quick_flag = run_cmd->add_flag("--quick", run.quick, "The short CI profile");
  run_cmd
      ->add_option("--suite", run.suite,
                   "A suite file (TOML, as bench/suites/default.toml) instead of the default")
      ->check(CLI::ExistingFile)
      ->excludes(quick_flag);
  run_cmd->add_option("--repetitions", run.repetitions, "Starts per container-like backend")
      ->check(CLI::Range(1, 100000));
  bool no_conformance = false;
  run_cmd->add_flag("--no-conformance", no_conformance, "Benchmarks only, no isolation probes");
  run_cmd->add_option("--vm-repetitions", run.vm_repetitions, "Boots per VM backend")
      ->check(CLI::Range(1, 1000));

  std::string report_out;
  std::vector<std::string> report_inputs;
  auto* report = app.add_subcommand("report", "Render result files into an HTML report");
  report->add_option("--out", report_out, "Output directory")->required();
  report->add_option("results", report_inputs, "Google Benchmark JSON files")
      ->required()
      ->check(CLI::ExistingFile);

  std::string soak_backends = "all";
  int soak_cycles = 1000;
  auto* soak = app.add_subcommand(
      "soak", "Create/destroy instances many times; fail on any leak or RSS growth");
  soak->add_option("--backends", soak_backends, "Comma-separated backends, or all");
  soak->add_option("--cycles", soak_cycles, "Create/destroy cycles per backend")
      ->check(CLI::Range(1, 10000000));

  CompareFlags compare_flags;
  auto* compare = app.add_subcommand(
      "compare",
      "Regression gate: compare two result files; exit 0 none regressed, 3 a regression, "
      "4 a gated row that cannot be judged");
  compare->add_option("base", compare_flags.base, "Baseline Google Benchmark JSON")->required();
  compare->add_option("new", compare_flags.candidate, "Candidate Google Benchmark JSON")
      ->required();
  compare->add_option("--thresholds", compare_flags.thresholds,
                      "Threshold file (default: ci/thresholds.toml of the source tree)");
  compare
      ->add_option("--alpha", compare_flags.alpha,
                   "Family-wise significance level (Holm) over the gated rows "
                   "(default: the thresholds file's `alpha`)")
      ->check(CLI::Range(1e-9, 0.2));
  compare->add_flag("--cross-host", compare_flags.cross_host,
                    "Compare files from different environments, labelled a host comparison");
  compare->add_flag("--json", compare_flags.json,
                    "Print the whole verdict as JSON instead of the table");
  compare->add_option("--json-out", compare_flags.json_out,
                      "Also write the whole verdict as JSON to this file");

  AbOptions ab_options;
  auto* ab = AddAbCommand(app, &ab_options);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0 through CLI11; a usage error ends on one error line.
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e);
    std::cerr << "isobench: error: " << e.what() << " (see isobench --help)\n";
    return e.get_exit_code();
  }
  LogLevel level;
  if (!ParseLogLevel(flags.log_level, &level)) {
    std::cerr << "isobench: error: unknown log level `" << flags.log_level << "`\n";
    return 2;
  }
  SetLogLevel(level);
  if (compare->parsed()) return CmdCompare(compare_flags);
  if (::geteuid() != 0 && !report->parsed()) {
    std::cerr << "isobench: error: must run as root (namespaces, cgroups, libvirt)\n";
    return 1;
  }
  if (backends->parsed()) return CmdBackends(flags, as_json);
  if (image->parsed()) return CmdImage(flags, image_kind);
  if (cleanup->parsed()) return CmdCleanup(flags);
  run.conformance = !no_conformance;
  if (run_cmd->parsed()) return CmdRun(flags, run);
  if (soak->parsed()) return CmdSoak(flags, soak_backends, soak_cycles);
  if (ab->parsed()) {
    ab_options.workdir = flags.workdir;
    ab_options.kernel = flags.kernel;
    ab_options.vm_uri = flags.vm_uri;
    ab_options.vm_accel = flags.vm_accel;
    return RunAb(ab_options);
  }
  if (report->parsed()) return RunReport(report_out, report_inputs);
  return 2;
}
