// Resource probes (PROBES.md 39-42) on every target.
#include "conformance/suite.h"

namespace isobench::conformance {
namespace {

class ResourceProbes : public ProbeTest {};

TEST_P(ResourceProbes, P39_RlimitsAsConfigured) { Check("rlimits"); }
TEST_P(ResourceProbes, P40_ForkBombStopsAtPidsLimit) { Check("fork_bomb"); }
TEST_P(ResourceProbes, P41_OomKillStaysInside) { Check("oom"); }
TEST_P(ResourceProbes, P42_CpuQuotaHolds) { Check("cpu_quota"); }

INSTANTIATE_TEST_SUITE_P(Targets, ResourceProbes, ::testing::ValuesIn(ProbeTargets()), TargetName);

}  // namespace
}  // namespace isobench::conformance
