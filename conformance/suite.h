// The conformance suite's shared environment: one instance per backend and profile for
// the whole run, created on first use (a VM boots once and serves every probe), each
// probe graded twice (against the instance's own promise and against the fixed
// hardened baseline), the mutation runs, and the verdict file.
//
//   class NamespaceProbes : public ProbeTest {};
//   TEST_P(NamespaceProbes, P02_InitIsPid1) { Check("pid1"); }
//   INSTANTIATE_TEST_SUITE_P(Targets, NamespaceProbes, ::testing::ValuesIn(ProbeTargets()),
//                            TargetName);
//
// A target is a backend plus a profile:
//   host/none               the agent with no isolation at all: every promise is absent, so
//                           every probe skips, while its baseline verdicts show the probes fail
//   <backend>/default       SecurityProfile{} (the baseline when the backend is "container")
//   <backend>/hardened      default + user namespace + read-only root (the native and the
//                           OCI runtimes)
//   <oci runtime>/<rt>-default   the runtime's own `spec` defaults, graded by what that spec
//                           promises (e.g. runc/runc-default)
//   <mutation backend>/weak-<switch>   one SecurityProfile switch turned off (MutationTest)
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "conformance/expectations.h"
#include "conformance/host_facts.h"
#include "conformance/probes.h"
#include "harness/backend.h"
#include "harness/session.h"

namespace isobench::conformance {

struct Target {
  std::string backend;
  std::string profile;
  std::string Label() const { return backend + "/" + profile; }
};
// "container_default": a GoogleTest parameter name.
std::string TargetName(const ::testing::TestParamInfo<Target>& info);
std::ostream& operator<<(std::ostream& out, const Target& target);

// Every target the probe tests run on: host/none and, for every backend this build
// registers, its default profile plus the extra profiles above.
std::vector<Target> ProbeTargets();
// Names of the SecurityProfile switches a weakened profile turns off, one at a time.
const std::vector<std::string>& Weakenings();
// Switch -> the probes that must catch its weakening (one of them flips pass -> fail).
const std::map<std::string, std::vector<std::string>>& MutationTable();
// Why `backend` cannot run `weakening` at all (the runtime refuses the configuration),
// or nullopt. Only these skip; any other mutant that cannot start fails its test.
std::optional<std::string> InexpressibleWeakening(const std::string& backend,
                                                  const std::string& weakening);
// The profile a weakening is measured against: "hardened" for user_ns and
// read_only_root (which the default profile does not turn on), "default" otherwise.
std::string ReferenceProfileFor(const std::string& weakening);
// The SecurityProfile a target profile name stands for (not "<rt>-default", which the
// runtime defines).
std::optional<harness::SecurityProfile> ProfileNamed(const std::string& name);
// The InstanceSpec every target starts from.
harness::InstanceSpec BaseSpec(const Target& target);

struct SuiteOptions {
  std::vector<std::string> backends;  // empty or {"all"}: every registered backend + host
  // Backends whose absence fails their targets instead of skipping them (--require=).
  std::vector<std::string> require;
  std::string workdir = "/var/lib/isobench";
  std::string kernel;
  std::map<std::string, std::string> backend_options;
  std::string mutation_backend = "container";  // empty: no mutation runs
  std::string verdicts_out;                    // empty: no verdict file
};
// Takes --backends=, --require=, --workdir=, --kernel=, --vm-uri=, --vm-accel=, --option=K=V,
// --mutation_backend=, --verdicts_out= out of argv (ISOBENCH_CONFORMANCE_OUT is the
// default of the last). Unknown --flags are an error.
harness::Result<SuiteOptions> ParseSuiteOptions(int* argc, char** argv);

// Why `backend` is absent here (not installed, no daemon, no guest kernel), or nullopt
// when it is present: a present backend that cannot start fails its targets, an absent
// one skips them unless required.
std::optional<std::string> AbsenceOf(const std::string& backend,
                                     const std::map<std::string, std::string>& options,
                                     const std::string& kernel);

// One probe on one target, graded twice.
struct Grade {
  std::string verdict;  // pass | fail | skip | error
  std::string detail;
  nlohmann::json observed = nlohmann::json::object();
  bool error = false;
};
struct Evaluation {
  bool available = true;  // false: the backend is unusable or not selected (skip)
  std::string unavailable_reason;
  std::string creation_error;  // non-empty: the instance could not be made (fail)
  Grade own;                   // against the target's own promise
  Grade baseline;              // against the hardened baseline
};

struct MutationOutcome {
  std::string weakening, reference, profile;
  bool ran = false;
  std::string skip_reason;  // the mutation backend is unusable
  std::string error;        // an instance could not be made
  bool caught = false;  // a probe of MutationTable() flipped
  std::vector<std::string> caught_by;        // "#2 pid1: ..." for each probe that flipped
  std::vector<std::string> caught_by_table;  // the flipped probes that the table names
  nlohmann::json verdicts = nlohmann::json::object();  // probe -> verdict on the mutant
  // The table's probes for this switch: both verdicts with details, the mutant's observed.
  nlohmann::json details = nlohmann::json::object();
};

class Suite : public ::testing::Environment {
 public:
  explicit Suite(SuiteOptions options);
  ~Suite() override;
  static Suite& Get();

  void SetUp() override;
  void TearDown() override;

  Evaluation Evaluate(const Target& target, const Probe& probe);
  MutationOutcome Mutate(const std::string& weakening);
  // Probes that ran on an instance (any verdict): zero after a run means nothing was
  // checked, which the binary's exit code reports.
  int probes_run() const { return probes_run_; }
  bool not_root() const { return not_root_; }

 private:
  struct State;
  State* StateFor(const Target& target);
  Grade GradeAgainst(State& state, const Probe& probe, const Expectations& expectations);
  harness::Result<void> Start(State& state);
  nlohmann::json VerdictFile() const;

  SuiteOptions options_;
  bool not_root_ = false;
  std::unique_ptr<HostFacts> host_;
  std::string host_error_;
  std::optional<harness::Session> session_;
  std::string session_error_;
  std::unique_ptr<harness::Backend> host_backend_;
  std::map<std::string, std::unique_ptr<State>> states_;  // by Target::Label()
  std::vector<std::string> state_order_;
  std::vector<MutationOutcome> mutations_;
  int probes_run_ = 0;
};

// The base of every probe test: Check() evaluates one probe on GetParam() and turns the
// verdict into pass / FAIL / GTEST_SKIP, recording both verdicts as test properties.
class ProbeTest : public ::testing::TestWithParam<Target> {
 protected:
  void Check(const std::string& probe_name);
};

}  // namespace isobench::conformance
