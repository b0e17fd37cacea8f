// Privilege probes (PROBES.md 30-38, 44, 45) on every target.
#include "conformance/suite.h"

namespace isobench::conformance {
namespace {

class PrivilegeProbes : public ProbeTest {};

TEST_P(PrivilegeProbes, P30_CapabilitySetsAsConfigured) { Check("capabilities"); }
TEST_P(PrivilegeProbes, P31_NotTheHostsFullSet) { Check("capabilities_not_full"); }
TEST_P(PrivilegeProbes, P32_NoNewPrivs) { Check("no_new_privs"); }
TEST_P(PrivilegeProbes, P33_OpenByHandleDenied) { Check("open_by_handle_at"); }
TEST_P(PrivilegeProbes, P34_ModuleLoadingDenied) { Check("module_loading"); }
TEST_P(PrivilegeProbes, P35_HostProcessUntraceable) { Check("ptrace_outside"); }
TEST_P(PrivilegeProbes, P36_SeccompFilterInstalled) { Check("seccomp_mode"); }
TEST_P(PrivilegeProbes, P37_DangerousSyscallsDenied) { Check("seccomp_denied"); }
TEST_P(PrivilegeProbes, P38_UnknownSyscallIsEnosys) { Check("unknown_syscall"); }
TEST_P(PrivilegeProbes, P44_NoLeakedDescriptors) { Check("leaked_fds"); }
TEST_P(PrivilegeProbes, P45_ThreadsUniform) { Check("thread_uniformity"); }

INSTANTIATE_TEST_SUITE_P(Targets, PrivilegeProbes, ::testing::ValuesIn(ProbeTargets()), TargetName);

}  // namespace
}  // namespace isobench::conformance
