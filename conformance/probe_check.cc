#include <map>
#include <string>

#include "conformance/known_deviations.h"
#include "conformance/suite.h"

namespace isobench::conformance {

namespace {

// Probes a bare host cannot fail, each with the reason; every other probe must fail on
// the host/none row (the negative control).
const std::map<std::string, std::string>& CannotFailOnBareHost() {
  static const std::map<std::string, std::string> table = {
      {"unknown_syscall",
       "the host kernel answers an unknown system call with ENOSYS itself; proven able to fail "
       "by ConformanceNegative.UnknownSyscallEperm (conformance_unit_test)"},
      {"leaked_fds",
       "the host reference starts the agent with only stdio and its channel; proven able "
       "to fail by ConformanceNegative.LeakedFd (conformance_unit_test)"},
      {"special_filesystems",
       "a bare host mounts proc, sysfs, devpts and tmpfs where they belong; the probe checks "
       "an instance's own mounts are of those kinds (the mount_ns mutation must catch it)"},
      {"cgroup_userns_escape",
       "on a kernel without the CVE-2022-0492 fix a bare host fails it; with the fix "
       "(>= 5.17) it is moot (a skip) wherever the runtime lets the instance in"},
  };
  return table;
}

}  // namespace

void ProbeTest::Check(const std::string& probe_name) {
  const Probe& probe = FindProbe(probe_name);
  Evaluation ev = Suite::Get().Evaluate(GetParam(), probe);
  if (!ev.available) GTEST_SKIP() << ev.unavailable_reason;
  if (!ev.creation_error.empty())
    FAIL() << "the instance could not be created: " << ev.creation_error;
  RecordProperty("verdict", ev.own.verdict);
  RecordProperty("baseline_verdict", ev.baseline.verdict);
  std::string context = "#" + std::to_string(probe.number) + " " + probe.title;
  const Target& target = GetParam();
  auto describe = [](const Grade& g) {
    return g.verdict + ": " + g.detail + "\n  observed: " + g.observed.dump().substr(0, 2000);
  };

  if (target.profile == "none") {
    // Negative control: the bare host must fail every probe that can fail there.
    auto exempt = CannotFailOnBareHost().find(probe.name);
    if (ev.own.verdict == "error")
      FAIL() << context << ": error on the bare host: " << describe(ev.own);
    if (exempt != CannotFailOnBareHost().end())
      GTEST_SKIP() << context << ": cannot fail on a bare host: " << exempt->second << " (observed "
                   << ev.own.verdict << ")";
    if (ev.own.verdict == "skip") GTEST_SKIP() << context << ": " << ev.own.detail;
    if (ev.own.verdict != "fail")
      FAIL() << context << ": negative control: the probe passes on the bare host, so it cannot "
             << "tell an isolated instance from none\n  " << describe(ev.own);
    SUCCEED() << "fails on the bare host as it must: " << ev.own.detail;
    return;
  }

  const KnownDeviation* d =
      FindKnownDeviation(SuiteBackends(), target.backend, target.profile, probe.name);
  // The grade that decides: the target's own promise; for a runtime's own default spec
  // that does not promise this protection, the hardened baseline (a runtime dropping a
  // protection fails, it does not skip).
  const Grade* g = &ev.own;
  std::string against = "its own promise";
  if (ev.own.verdict == "skip" && IsRuntimeDefault(target) && ev.baseline.verdict != "skip") {
    g = &ev.baseline;
    against =
        "the hardened baseline (the runtime's default spec does not promise it: " + ev.own.detail +
        ")";
  }
  if (g->verdict == "error")
    FAIL() << context << ": error, the probe could not decide (against " << against << ")\n  "
           << describe(*g);
  if (g->verdict == "skip") GTEST_SKIP() << context << ": " << g->detail;
  if (d) {
    RecordProperty("known_deviation", d->reason);
    if (Excuses(*d, g->verdict, g->observed))
      GTEST_SKIP() << context << ": known deviation of " << target.Label() << ": " << d->reason
                   << "\n  signature: " << d->signature << "\n  observed: " << g->detail;
    if (g->verdict == "fail")
      FAIL() << context << ": fails, and not as its known deviation (" << d->signature
             << ") excuses\n  " << describe(*g);
    FAIL() << context << ": listed as a known deviation of " << target.Label()
           << " but passes; remove it from the deviations its backend registers";
  }
  if (g->verdict == "fail") FAIL() << context << " (against " << against << ")\n  " << describe(*g);
  if (g->verdict != "pass") FAIL() << context << ": unknown verdict " << describe(*g);
  SUCCEED() << g->detail;
}

}  // namespace isobench::conformance
