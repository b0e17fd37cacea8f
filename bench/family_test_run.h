// The family tests' way of running the suite: the benchmark binary as a user runs it,
// on a suite file of the test's own, the results read back from its JSON file.
//
//   auto results = RunBenchSuite(dir_, "net", OtherFamiliesOff("net") + "[net]\n...",
//                                {"--backends=all"}, std::chrono::minutes(10));
//
// Include from a test target that defines ISOBENCH_BENCH_BINARY (bench/CMakeLists.txt).
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "harness/bench_results.h"
#include "harness/child_process.h"
#include "harness/fd.h"

namespace isobench::bench {

// A family test's own directory under /tmp (suite files, results, a work directory),
// removed after the test whatever its outcome. SetUp checks what the test needs (root,
// tools, libvirt) first, then calls MakeDir.
class FamilyTest : public ::testing::Test {
 protected:
  void MakeDir(const std::string& family) {
    std::string tmpl = "/tmp/isobench-" + family + "-test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr)
        << "mkdtemp " << tmpl << ": " << std::strerror(errno);
    dir_ = tmpl;
  }
  void TearDown() override {
    if (!dir_.empty()) (void)harness::RemoveTree(dir_);
  }

  std::string dir_;
};

// "[<f>]\nenabled = false\n" for every family but `family`: a suite file's families
// default to enabled, so a test that wants one family switches the others off.
inline std::string OtherFamiliesOff(const std::string& family) {
  std::string text;
  for (const char* f : {"startup", "density", "overhead", "io", "net", "isolation", "image"})
    if (family != f) text += std::string("[") + f + "]\nenabled = false\n";
  return text;
}

// Writes `suite_text` to <dir>/<name>.toml, runs the benchmark binary on it with `args`,
// and loads <dir>/<name>.json. A run that exits non-zero is an error, unless
// `rows_may_fail`: a failing row makes the binary exit non-zero, and a test of how rows
// fail reads them from the file the run wrote anyway.
inline harness::Result<harness::BenchmarkResults> RunBenchSuite(
    const std::string& dir, const std::string& name, const std::string& suite_text,
    const std::vector<std::string>& args, std::chrono::milliseconds timeout,
    bool rows_may_fail = false) {
  const std::string suite = dir + "/" + name + ".toml";
  ISO_RETURN_IF_ERROR(harness::WriteWholeFile(suite, suite_text));
  const std::string out = dir + "/" + name + ".json";
  std::vector<std::string> argv = {ISOBENCH_BENCH_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.insert(argv.end(),
              {"--suite=" + suite, "--benchmark_out=" + out, "--benchmark_out_format=json"});
  auto ran = harness::RunCapture(argv, timeout);
  if (!ran.ok() && !rows_may_fail) return std::move(ran).error();
  auto results = harness::LoadBenchmarkResults(out);
  if (!results.ok() && !ran.ok()) return std::move(ran).error();
  return results;
}

// The row whose name starts with `prefix` + "/" (its /iterations:... suffix aside).
inline const harness::RunSamples* Row(const harness::BenchmarkResults& results,
                                      const std::string& prefix) {
  for (const harness::RunSamples& r : results.runs)
    if (r.run_name.rfind(prefix + "/", 0) == 0) return &r;
  return nullptr;
}

// A counter a single-record row carries once; -1 when it has none or several.
inline double Only(const harness::RunSamples& row, const char* counter) {
  const std::vector<double>* v = row.Counter(counter);
  return v && v->size() == 1 ? v->front() : -1;
}

// What a run left in the cgroup trees and under the work directory's containers, found
// by its run.id: "" when nothing.
inline std::string RunLeftovers(const harness::BenchmarkResults& results,
                                const std::string& workdir) {
  const std::string run = results.ContextValue("run.id");
  if (run.empty()) return "the results carry no run.id";
  auto out =
      harness::RunCapture({"/bin/sh", "-c",
                           "ls -d /sys/fs/cgroup/*/isobench/" + run + " /sys/fs/cgroup/isobench/" +
                               run + " " + workdir + "/containers/" + run + " 2>/dev/null; true"});
  return out.ok() ? *out : "error: " + out.error().message();
}

}  // namespace isobench::bench
