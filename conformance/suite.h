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
// The targets and their profiles: targets.h; the binary's flags: suite_options.h.
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
#include "conformance/suite_options.h"
#include "conformance/targets.h"
#include "harness/backend.h"
#include "harness/session.h"

namespace isobench::conformance {

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
  std::string skip_reason;                             // the mutation backend is unusable
  std::string error;                                   // an instance could not be made
  bool caught = false;                                 // a probe of MutationTable() flipped
  std::vector<std::string> caught_by;                  // "#2 pid1: ..." for each probe that flipped
  std::vector<std::string> caught_by_table;            // the flipped probes that the table names
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
  // The "networked" target's peer and its listener, into the target's expectations.
  harness::Result<void> StartPeer(State& state, harness::Backend& backend);
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
