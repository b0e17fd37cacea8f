// `isobench ab`: a same-host A/B. Two builds of isobench (or one build in two
// configurations) run the benchmark suite alternately, block by block, on one host, so
// that whatever the host does meanwhile (other load, page cache, thermal) falls on both
// sides; the records of each side are pooled into one result file and gated with the
// compare pipeline (exit 0 same, 3 regressed, 4 cannot judge, as `isobench compare`).
//
//   isobench ab --a ../base/build --b build --quick --out results/ab
//   isobench ab --b-cpu-quota 0.5 --quick          # this build against itself, B throttled
//
// The suite's rounds are split into `blocks` parts per side; the order is A B B A A B ...
// (each pair starts with the side that ended the previous pair, so a steady trend of
// the host costs both sides alike). B may run under a CPU quota (a cgroup this command
// creates and removes) and with extra environment variables. The quota holds the
// harness and whatever stays in its cgroup (the host floor's fork+exec, an instance's
// set-up until it enters its own cgroup); instances in their own cgroups, dockerd's
// containers and libvirt's qemu are outside it, as they are outside any harness.
#pragma once

#include <string>
#include <vector>

#include "harness/error.h"

namespace CLI {
class App;
}

namespace isobench::harness {

struct AbOptions {
  std::string a;  // build directory or isobench_bench path; empty: this build
  std::string b;  // likewise
  // Blocks per side, alternating A B B A ...: near round by round for the quick suite
  // (one A/A with 2 blocks under a neighbour's compile raised 3 false alarms, with 8
  // none: a block costs ~1 s to start). A row whose blocks differ is judged on its
  // blocks' medians (harness/compare.h), and 10 a side is what lets those reach Holm's
  // level: the smallest exact p is 2/C(20,10) = 1.1e-5 (8: 1.6e-4, above 0.01 / 67,
  // the quick suite's gated rows). A row with fewer rounds than blocks gets one per
  // block (the quick suite's 2 VM boots become 10 a side).
  int blocks = 10;
  bool quick = false;
  std::string suite;
  std::string backends = "all";
  std::string out;
  std::string thresholds;
  double b_cpu_quota = 0;          // CPUs' worth for B (0.5 = half of one CPU); 0: none
  std::vector<std::string> b_env;  // KEY=VALUE for B only
  // Passed to every isobench_bench (from the global flags).
  std::string workdir;
  std::string kernel;
  std::string vm_uri;
  std::string vm_accel;
};

// Adds the `ab` subcommand and its options to `app`, filling `options` when parsed.
CLI::App* AddAbCommand(CLI::App& app, AbOptions* options);

// Runs the A/B; the exit code of the command.
int RunAb(const AbOptions& options);

// The isobench_bench of a build directory, or the path itself if it is that program.
Result<std::string> ResolveBenchProgram(const std::string& build_or_program);

// Pools the records of several Google Benchmark JSON files (the blocks of one side)
// into `out`: the first file's context (plus "ab.blocks"), every record of every file,
// each tagged with its block (ab_block, 1-based, in the order of `inputs`).
Result<void> MergeResultFiles(const std::vector<std::string>& inputs, const std::string& out);

}  // namespace isobench::harness
