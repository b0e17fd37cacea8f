// Filesystem probes (PROBES.md 13-26) on every target.
#include "conformance/suite.h"

namespace isobench::conformance {
namespace {

class FilesystemProbes : public ProbeTest {};

TEST_P(FilesystemProbes, P13_OldRootUnreachable) { Check("old_root"); }
TEST_P(FilesystemProbes, P14_RootReadOnly) { Check("read_only_root"); }
TEST_P(FilesystemProbes, P15_SpecialFilesystemTypes) { Check("special_filesystems"); }
TEST_P(FilesystemProbes, P16_MaskedPathsEmpty) { Check("masked_paths"); }
TEST_P(FilesystemProbes, P17_MasksCannotBeUnmounted) { Check("umount_masked"); }
TEST_P(FilesystemProbes, P18_ProcKnobsReadOnly) { Check("proc_writable"); }
TEST_P(FilesystemProbes, P19_CorePatternReadOnly) { Check("core_pattern"); }
TEST_P(FilesystemProbes, P20_FreshProcCannotWriteSysrq) { Check("proc_remount_sysrq"); }
TEST_P(FilesystemProbes, P21_CgroupfsReadOnly) { Check("cgroupfs_read_only"); }
TEST_P(FilesystemProbes, P22_ReleaseAgentUnwritable) { Check("cgroup_release_agent"); }
TEST_P(FilesystemProbes, P23_Cve20220492Blocked) { Check("cgroup_userns_escape"); }
TEST_P(FilesystemProbes, P24_MountsDoNotPropagate) { Check("mount_propagation"); }
TEST_P(FilesystemProbes, P25_RuntimeSocketsUnreachable) { Check("runtime_sockets"); }
TEST_P(FilesystemProbes, P26_NoHostDirectoriesMounted) { Check("host_mounts"); }

INSTANTIATE_TEST_SUITE_P(Targets, FilesystemProbes, ::testing::ValuesIn(ProbeTargets()),
                         TargetName);

}  // namespace
}  // namespace isobench::conformance
