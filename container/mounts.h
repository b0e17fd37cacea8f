// Everything mounted or created under the new root before the child enters it: /proc,
// /sys (read-only), /sys/fs/cgroup (the instance's own cgroups, read-only), a minimal
// /dev on tmpfs, the masked and read-only paths runc and crun apply, and volumes.
//
// The table is built by the parent (pure, unit-tested) and replayed by the child with
// one system call per step:
//
//   MountTableOptions options;
//   options.root = plan.merged;
//   std::vector<MountStep> table = BuildMountTable(options);
//   // child:
//   CHILD_RETURN_IF_ERROR(ApplyMountTable(table));
//
// Paths are host paths under `root` (the child acts before pivot_root, so it can still
// bind host files such as /dev/null over masked paths).
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

#include "container/child_status.h"
#include "harness/backend.h"

namespace isobench::container {

struct MountStep {
  enum class Kind {
    kMount,     // mount(source, target, fstype, flags, data)
    kBind,      // bind source on target (MS_REC if flags has it), then remount ro if asked
    kMask,      // bind /dev/null over a file, or an empty read-only tmpfs over a directory
    kReadOnly,  // bind target on itself, remount read-only
    kRemount,   // remount target with flags (e.g. read-only)
    kMkdir,     // mkdir target (existing is fine)
    kTouch,     // create an empty file target (existing is fine): a bind mount point
    kMknod,     // mknod target mode dev
    kSymlink,   // symlink source -> target
  };
  Kind kind = Kind::kMount;
  std::string source;
  std::string target;
  std::string fstype;
  std::string data;
  unsigned long flags = 0;
  mode_t mode = 0;
  dev_t dev = 0;
  bool read_only = false;  // kBind
  bool optional = false;   // a missing target (ENOENT) skips the step
};

// One device node of the minimal /dev.
struct DeviceNode {
  const char* name;
  unsigned major;
  unsigned minor;
};
// null, zero, full, random, urandom, tty (OCI runtime-spec "Default Devices").
const std::vector<DeviceNode>& DefaultDevices();

struct MountTableOptions {
  std::string root;  // host path of the new root (the overlay's merged directory)
  bool minimal_dev = true;
  bool mask_paths = true;
  bool read_only_sys = true;
  bool user_ns = false;  // device nodes are bind-mounted: mknod(2) is refused in a userns
  bool net_ns = true;    // sysfs may only be mounted by the owner of the network namespace
  bool ipc_ns = true;
  // Cgroup directories shown at /sys/fs/cgroup: {name, host dir}. A single entry with an
  // empty name (cgroup v2) is mounted at /sys/fs/cgroup itself; otherwise each is
  // mounted at /sys/fs/cgroup/<name> on a tmpfs.
  std::vector<std::pair<std::string, std::string>> cgroup_views;
  struct VolumeMount {
    std::string host_path;
    std::string guest_path;
    bool read_only = false;
    bool is_directory = true;
  };
  std::vector<VolumeMount> volumes;
};

std::vector<MountStep> BuildMountTable(const MountTableOptions& options);

// A volume is valid when its host path exists and neither path has a ".." component;
// the guest path must be absolute and not "/". Fills `is_directory`.
Result<MountTableOptions::VolumeMount> ValidateVolume(const harness::Volume& volume);

// "mount proc on /x/proc (proc, 0xe)" — for logs and tests.
std::string DescribeMountStep(const MountStep& step);

// Child: runs every step in order; the first failure stops.
ChildStatus ApplyMountTable(const std::vector<MountStep>& table);

}  // namespace isobench::container
