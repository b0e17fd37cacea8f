// A snapshot of what isobench could leave behind on a host, to prove it leaves nothing:
// mounts, loop devices, cgroup directories, network namespaces and links, this
// process's children and open fds, and files under the work directory.
//
//   HostState before = CaptureHostState(workdir);
//   ... create and destroy instances ...
//   std::vector<std::string> leaks = DiffHostState(before, CaptureHostState(workdir));
//   EXPECT_TRUE(leaks.empty()) << Join(leaks);
#pragma once

#include <set>
#include <string>
#include <vector>

namespace isobench::harness {

struct HostState {
  std::set<std::string> mounts;        // "<mount point> <fstype>" from /proc/self/mountinfo
  std::set<std::string> cgroup_dirs;   // every dir named isobench* under /sys/fs/cgroup
  std::set<std::string> netns;         // /run/netns entries and distinct net ns of processes
  std::set<std::string> links;         // host network interfaces
  std::set<std::string> guards;        // nftables guard tables (bridge_guard.h), by bridge
  std::set<std::string> loop_devices;  // "loopN <backing file>" of every bound loop device
  std::set<std::string> descendants;   // "<pid> <comm>" of this process's descendants
  // "<pid> <comm>" of isobench's qemu processes (libvirtd is their parent, not us).
  std::set<std::string> hypervisors;
  std::set<std::string> fds;  // "<fd> -> <target>" of this process
  // Paths under the work directory's folders (containers/, oci/, vm/, scratch/, ...),
  // the caches excepted.
  std::set<std::string> workdir_entries;
};

// The work directory's caches, kept across runs by design: images/ (guest userlands)
// and kernels/ (built guest kernels).
bool IsWorkdirCache(const std::string& name);

HostState CaptureHostState(const std::string& workdir);

// One human-readable line per difference ("+ mount /x overlay", "- fd 7 -> ...").
std::vector<std::string> DiffHostState(const HostState& before, const HostState& after);

std::string JoinLines(const std::vector<std::string>& lines);

}  // namespace isobench::harness
