#include "harness/cli/ab.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "harness/backend.h"
#include "harness/bench_results.h"
#include "harness/child_process.h"
#include "harness/cli/paths.h"
#include "harness/compare.h"
#include "harness/environment.h"
#include "harness/fd.h"
#include "harness/interrupt.h"
#include "harness/log.h"

extern char** environ;

namespace isobench::harness {
namespace {

// The one call into the compare pipeline: two result files in, the table on stdout,
// the exit code of `isobench compare` out (0 same, 3 regressed; 1 on an error).
int GateResultFiles(const std::string& base_path, const std::string& new_path,
                    const std::string& thresholds_path) {
  ComparisonOptions options;
  options.thresholds_path = thresholds_path;
  // The sides alternated block by block on this host: drift fell on both, so the
  // stored-file report-only rules do not apply.
  options.interleaved = true;
  auto report = RunComparison(base_path, new_path, options);
  if (!report.ok()) {
    std::cerr << "isobench: error: " << report.error().message() << "\n";
    return 1;
  }
  std::string dir = new_path.substr(0, new_path.rfind('/') + 1);
  if (auto w = WriteWholeFile(dir + "verdict.json", ComparisonToJson(*report).dump(2) + "\n");
      !w.ok())
    std::cerr << "isobench: warning: " << w.error().message() << "\n";
  std::cout << FormatComparison(*report);
  return report->ExitCode();
}

// A cgroup with a CPU quota, made for side B and removed by the destructor (processes
// still in it are moved to its parent first, so the directory can go). Only the cpu
// controller is used: v2's cpu.max, or v1's cfs quota (hybrid hosts too).
class CpuQuotaCgroup {
 public:
  static Result<CpuQuotaCgroup> Create(double cpus) {
    CpuQuotaCgroup cg;
    // A short period (the kernel's minimum quota is 1 ms): a container start is a burst
    // of a millisecond or two of harness CPU, which a 100 ms period never throttles, so
    // a "half a CPU" B would run its starts at full speed and the A/B would see nothing.
    const long period = std::clamp(std::lround(1000.0 / std::max(cpus, 1e-6)), 2000L, 1000000L);
    long quota = std::lround(cpus * period);
    if (quota < 1000)
      return Error("--b-cpu-quota " + std::to_string(cpus) + " is below 0.01 CPU", EINVAL);
    std::string name = "isobench-ab-" + std::to_string(::getpid());
    std::string mode = DetectCgroupMode();
    if (mode == "v2") {
      auto controllers = ReadFile("/sys/fs/cgroup/cgroup.subtree_control");
      if (!controllers.ok() || controllers->find("cpu") == std::string::npos)
        return Error(
            "the cpu controller is not enabled in /sys/fs/cgroup/cgroup.subtree_control: "
            "cannot give B a CPU quota",
            ENODEV);
      cg.parent_ = "/sys/fs/cgroup";
    } else {
      for (const char* dir : {"/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpu"}) {
        if (::access((std::string(dir) + "/cpu.cfs_quota_us").c_str(), W_OK) == 0) {
          cg.parent_ = dir;
          break;
        }
      }
      if (cg.parent_.empty())
        return Error(
            "no writable cgroup v1 cpu controller (cpu.cfs_quota_us) under /sys/fs/cgroup: "
            "cannot give B a CPU quota",
            ENODEV);
    }
    cg.dir_ = cg.parent_ + "/" + name;
    if (::mkdir(cg.dir_.c_str(), 0755) != 0) {
      Error e = Error::Errno("mkdir", cg.dir_);
      cg.dir_.clear();
      return e;
    }
    if (mode == "v2") {
      ISO_RETURN_IF_ERROR(
          WriteFile(cg.dir_ + "/cpu.max", std::to_string(quota) + " " + std::to_string(period)));
      cg.describe_ = "cgroup v2 " + cg.dir_ + " cpu.max " + std::to_string(quota) + " " +
                     std::to_string(period);
    } else {
      ISO_RETURN_IF_ERROR(WriteFile(cg.dir_ + "/cpu.cfs_period_us", std::to_string(period)));
      ISO_RETURN_IF_ERROR(WriteFile(cg.dir_ + "/cpu.cfs_quota_us", std::to_string(quota)));
      cg.describe_ = "cgroup v1 " + cg.dir_ + " cpu.cfs_quota_us " + std::to_string(quota) + " / " +
                     std::to_string(period);
    }
    return cg;
  }

  CpuQuotaCgroup() = default;
  CpuQuotaCgroup(CpuQuotaCgroup&& o) noexcept { *this = std::move(o); }
  CpuQuotaCgroup& operator=(CpuQuotaCgroup&& o) noexcept {
    if (this != &o) {
      (void)Remove();
      parent_ = std::move(o.parent_);
      dir_ = std::exchange(o.dir_, std::string());
      describe_ = std::move(o.describe_);
    }
    return *this;
  }
  ~CpuQuotaCgroup() {
    if (auto r = Remove(); !r.ok()) std::cerr << "isobench: " << r.error().message() << "\n";
  }

  std::string procs() const { return dir_ + "/cgroup.procs"; }
  const std::string& describe() const { return describe_; }

  Result<void> Remove() {
    if (dir_.empty()) return {};
    for (int attempt = 0; attempt < 50; ++attempt) {
      if (::rmdir(dir_.c_str()) == 0 || errno == ENOENT) {
        dir_.clear();
        return {};
      }
      if (errno != EBUSY) break;
      // Something B started outlived it: hand it to the parent cgroup.
      auto pids = ReadFile(procs());
      if (pids.ok()) {
        std::istringstream in(*pids);
        std::string pid;
        while (in >> pid) (void)WriteFile(parent_ + "/cgroup.procs", pid);
      }
      ::usleep(100 * 1000);
    }
    Error e = Error::Errno("rmdir", dir_);
    dir_.clear();
    return e;
  }

 private:
  std::string parent_;
  std::string dir_;
  std::string describe_;
};

struct Side {
  const char* name;  // "A" or "B"
  std::string program;
  std::vector<std::string> block_files;
};

// Runs one block; forwards an interrupt to the bench (which stops cleanly, destroying
// its instances) and waits for it. The wait status, or an error.
Result<int> RunBlock(const std::vector<std::string>& argv,
                     const ChildProcess::SpawnOptions& spawn) {
  ISO_ASSIGN_OR_RETURN(ChildProcess child, ChildProcess::Spawn(argv, spawn));
  bool forwarded = false;
  auto forwarded_at = Clock::now();
  while (true) {
    ISO_ASSIGN_OR_RETURN(std::optional<int> status, child.WaitFor(std::chrono::milliseconds(200)));
    if (status) return *status;
    if (Interrupted() && !forwarded) {
      (void)child.Signal(SIGTERM);
      forwarded = true;
      forwarded_at = Clock::now();
    }
    // A bench that does not stop within two minutes of SIGTERM is killed (the
    // ChildProcess destructor), rather than holding the A/B forever.
    if (forwarded && SecondsBetween(forwarded_at, Clock::now()) > 120)
      return Error("the benchmark did not stop within 120 s of SIGTERM: killed", ETIMEDOUT);
  }
}

std::vector<std::string> InheritedEnvPlus(const std::vector<std::string>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string entry = *e;
    std::string key = entry.substr(0, entry.find('='));
    bool replaced = false;
    for (const auto& x : extra)
      if (x.substr(0, x.find('=')) == key) replaced = true;
    if (!replaced) env.push_back(entry);
  }
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

std::string Timestamp() {
  std::time_t now = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", std::gmtime(&now));
  return buf;
}

}  // namespace

Result<std::string> ResolveBenchProgram(const std::string& build_or_program) {
  std::string path =
      build_or_program.empty() ? SelfDir() + "/../../bench/isobench_bench" : build_or_program;
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return Error::Errno("stat", path);
  if (S_ISDIR(st.st_mode)) {
    std::string program = path + "/bench/isobench_bench";
    if (::access(program.c_str(), X_OK) != 0)
      return Error("`" + path +
                       "` is a directory without bench/isobench_bench: give a build "
                       "directory of isobench or the isobench_bench program",
                   ENOENT);
    path = program;
  }
  if (::access(path.c_str(), X_OK) != 0) return Error("`" + path + "` is not executable", EACCES);
  // The canonical path, so the progress lines and the record say which build ran.
  char real[PATH_MAX];
  if (::realpath(path.c_str(), real)) return std::string(real);
  return path;
}

Result<void> MergeResultFiles(const std::vector<std::string>& inputs, const std::string& out) {
  if (inputs.empty()) return Error("no result files to merge", EINVAL);
  nlohmann::json merged;
  nlohmann::json records = nlohmann::json::array();
  nlohmann::json run_ids = nlohmann::json::array();
  for (std::size_t block = 0; block < inputs.size(); ++block) {
    const std::string& input = inputs[block];
    ISO_ASSIGN_OR_RETURN(std::string text, ReadFile(input));
    nlohmann::json doc = nlohmann::json::parse(QuoteNonFiniteTokens(text), nullptr, false);
    if (doc.is_discarded() || !doc.is_object() || !doc.contains("benchmarks") ||
        !doc["benchmarks"].is_array())
      return Error(input + ": not a Google Benchmark JSON result file", EINVAL);
    if (merged.is_null()) merged["context"] = doc.value("context", nlohmann::json::object());
    if (doc.contains("context") && doc["context"].contains("run.id"))
      run_ids.push_back(doc["context"]["run.id"]);
    for (auto& record : doc["benchmarks"]) {
      // Which block each sample came from: the gate judges a row on its blocks'
      // medians when the blocks differ (the host's speed changed between them).
      if (record.is_object()) record["ab_block"] = block + 1;
      records.push_back(std::move(record));
    }
  }
  merged["context"]["ab.blocks"] = std::to_string(inputs.size());
  merged["context"]["ab.block_run_ids"] = run_ids.dump();
  merged["benchmarks"] = std::move(records);
  return WriteWholeFile(out, merged.dump(1) + "\n");
}

CLI::App* AddAbCommand(CLI::App& app, AbOptions* o) {
  auto* ab = app.add_subcommand(
      "ab",
      "Same-host A/B: two builds (or B under a CPU quota / other environment) run the suite "
      "alternately, then the regression gate (exit 0 same, 3 regressed, as compare)");
  ab->add_option("--a", o->a,
                 "Side A (the base): a build directory or its isobench_bench "
                 "(default: this build)");
  ab->add_option("--b", o->b, "Side B (the change): likewise (default: this build)");
  ab->add_option("--blocks", o->blocks,
                 "Blocks per side; the suite's rounds are split among them (order A B B A ...)")
      ->check(CLI::Range(1, 100));
  ab->add_flag("--quick", o->quick, "The quick suite");
  ab->add_option("--suite", o->suite, "Suite file (default: bench/suites/{default,quick}.toml)")
      ->check(CLI::ExistingFile);
  ab->add_option("--backends", o->backends, "Comma-separated backends, or all");
  ab->add_option("--out", o->out, "Results directory (default results/ab-<time>)");
  ab->add_option("--thresholds", o->thresholds,
                 "Threshold file (default: ci/thresholds.toml of the source tree)");
  ab->add_option("--b-cpu-quota", o->b_cpu_quota,
                 "Run B in a cgroup limited to this many CPUs (0.5 = half a CPU); the cgroup is "
                 "made for the A/B and removed after")
      ->check(CLI::Range(0.01, 1024.0));
  ab->add_option("--b-env", o->b_env, "KEY=VALUE in B's environment only (repeatable)");
  return ab;
}

int RunAb(const AbOptions& o) {
  auto fail = [](const Error& e) {
    std::cerr << "isobench: error: " << e.message() << "\n";
    return 1;
  };
  for (const auto& kv : o.b_env)
    if (kv.find('=') == std::string::npos || kv.front() == '=')
      return fail(Error("--b-env `" + kv + "` is not KEY=VALUE", EINVAL));
  auto a_program = ResolveBenchProgram(o.a);
  if (!a_program.ok()) return fail(std::move(a_program).error().Context("side A"));
  auto b_program = ResolveBenchProgram(o.b);
  if (!b_program.ok()) return fail(std::move(b_program).error().Context("side B"));
  // Both sides read one suite file, so a change of the suite itself does not pass for a
  // change of performance.
  std::string suite =
      o.suite.empty() ? SourceDir() + "/bench/suites/" + (o.quick ? "quick.toml" : "default.toml")
                      : o.suite;
  if (::access(suite.c_str(), R_OK) != 0) return fail(Error::Errno("open", suite));
  std::string out = o.out.empty() ? "results/ab-" + Timestamp() : o.out;
  for (const char* side : {"a", "b"})
    if (auto r = MakeDirs(out + "/" + side); !r.ok()) return fail(r.error());

  InstallInterruptHandlers();
  std::optional<CpuQuotaCgroup> quota;
  if (o.b_cpu_quota > 0) {
    auto made = CpuQuotaCgroup::Create(o.b_cpu_quota);
    if (!made.ok()) return fail(made.error());
    quota.emplace(std::move(*made));
  }

  Side sides[2] = {{"A", *a_program, {}}, {"B", *b_program, {}}};
  std::cerr << "isobench ab: A = " << sides[0].program << "\n"
            << "isobench ab: B = " << sides[1].program;
  if (quota) std::cerr << " (CPU quota " << o.b_cpu_quota << ": " << quota->describe() << ")";
  for (const auto& kv : o.b_env) std::cerr << " " << kv;
  std::cerr << "\nisobench ab: suite " << suite << ", " << o.blocks
            << " block(s) per side; results in " << out << "\n";

  auto start = Clock::now();
  int total = 2 * o.blocks;
  int done = 0;
  for (int pair = 0; pair < o.blocks; ++pair) {
    // A B, then B A, then A B ...: each side goes first as often as second.
    int order[2] = {pair % 2, 1 - pair % 2};
    for (int which : order) {
      if (Interrupted()) break;
      Side& side = sides[which];
      std::string file =
          out + "/" + (which == 0 ? "a" : "b") + "/block-" + std::to_string(pair + 1) + ".json";
      std::vector<std::string> argv = {side.program,
                                       "--backends=" + o.backends,
                                       "--workdir=" + o.workdir,
                                       "--suite=" + suite,
                                       "--rounds-split=" + std::to_string(o.blocks),
                                       "--benchmark_out=" + file,
                                       "--benchmark_out_format=json"};
      if (o.quick) argv.push_back("--quick");
      if (!o.kernel.empty()) argv.push_back("--kernel=" + o.kernel);
      if (!o.vm_uri.empty()) argv.push_back("--vm-uri=" + o.vm_uri);
      if (!o.vm_accel.empty()) argv.push_back("--vm-accel=" + o.vm_accel);
      ChildProcess::SpawnOptions spawn;
      spawn.die_with_parent = true;  // a killed `isobench ab` leaves no bench running
      // The bench's own console table goes to our stderr: stdout is the gate's table.
      spawn.stdout_fd = STDERR_FILENO;
      if (which == 1) {
        if (!o.b_env.empty()) spawn.env = InheritedEnvPlus(o.b_env);
        if (quota) {
          // The bench enters the cgroup before it execs, so nothing of it runs unthrottled.
          argv.insert(argv.begin(),
                      {"/bin/sh", "-c", "echo $$ > \"$0\" && exec \"$@\"", quota->procs()});
        }
      }
      auto block_start = Clock::now();
      std::cerr << "isobench ab: block " << done + 1 << "/" << total << ": " << side.name
                << " (round block " << pair + 1 << "/" << o.blocks << ")\n";
      auto status = RunBlock(argv, spawn);
      if (!status.ok())
        return fail(std::move(status).error().Context("side " + std::string(side.name)));
      double seconds = SecondsBetween(block_start, Clock::now());
      ++done;
      if (Interrupted()) break;
      bool rows_errored = WIFEXITED(*status) && WEXITSTATUS(*status) == kExitBenchRowsErrored;
      if (rows_errored && ::access(file.c_str(), R_OK) == 0) {
        // Kept: the gate sees those rows' errors and cannot judge them (exit 4).
        std::cerr << "isobench ab: side " << side.name << ": some benchmark rows errored (block "
                  << pair + 1 << "); the gate will not judge them\n";
      } else if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0 ||
                 ::access(file.c_str(), R_OK) != 0) {
        std::cerr << "isobench: error: side " << side.name << "'s benchmark "
                  << DescribeWaitStatus(*status) << " (block " << pair + 1 << ")\n";
        return 1;
      }
      side.block_files.push_back(file);
      double elapsed = SecondsBetween(start, Clock::now());
      std::fprintf(stderr,
                   "isobench ab: block %d/%d: %s done in %.0f s (%.0f s elapsed, ~%.0f s left)\n",
                   done, total, side.name, seconds, elapsed, elapsed / done * (total - done));
    }
  }
  if (Interrupted()) {
    std::cerr << "isobench ab: interrupted; partial results in " << out << "\n";
    return 128 + InterruptSignal();
  }
  if (quota) {
    if (auto r = quota->Remove(); !r.ok()) return fail(r.error());
  }
  for (int which : {0, 1}) {
    std::string merged = out + "/" + (which == 0 ? "a" : "b") + ".json";
    if (auto r = MergeResultFiles(sides[which].block_files, merged); !r.ok())
      return fail(r.error());
  }
  std::cerr << "isobench ab: " << out << "/a.json and " << out
            << "/b.json written; gating B against A\n";
  return GateResultFiles(out + "/a.json", out + "/b.json", o.thresholds);
}

}  // namespace isobench::harness
