// Namespace probes (PROBES.md 1-5, 8-12) on every target.
#include "conformance/suite.h"

namespace isobench::conformance {
namespace {

class NamespaceProbes : public ProbeTest {};

TEST_P(NamespaceProbes, P01_NamespacesDifferFromHost) { Check("namespaces"); }
TEST_P(NamespaceProbes, P02_InitIsPid1) { Check("pid1"); }
TEST_P(NamespaceProbes, P03_OnlyOwnPidsVisible) { Check("pid_visibility"); }
TEST_P(NamespaceProbes, P04_HostnameIsolated) { Check("hostname"); }
TEST_P(NamespaceProbes, P05_HostIpcInvisible) { Check("ipc"); }
TEST_P(NamespaceProbes, P08_OwnCgroupView) { Check("cgroup_view"); }
TEST_P(NamespaceProbes, P09_ConfiguredIdMaps) { Check("id_maps"); }
TEST_P(NamespaceProbes, P10_SetgroupsDenied) { Check("setgroups"); }
TEST_P(NamespaceProbes, P11_UnmappedOwnerIsOverflow) { Check("unmapped_owner"); }
TEST_P(NamespaceProbes, P12_ForeignNamespacesUnenterable) { Check("setns_foreign"); }

INSTANTIATE_TEST_SUITE_P(Targets, NamespaceProbes, ::testing::ValuesIn(ProbeTargets()), TargetName);

}  // namespace
}  // namespace isobench::conformance
