#include "harness/host_state.h"

#include <sys/stat.h>
#include <unistd.h>

#include <functional>
#include <map>

#include "harness/bridge_guard.h"
#include "harness/fd.h"
#include "harness/procfs.h"

namespace isobench::harness {
namespace {

// Entry names of a directory; empty when it does not exist.
std::vector<std::string> Entries(const std::string& path) {
  auto names = ListDir(path);
  return names.ok() ? std::move(names).value() : std::vector<std::string>();
}

bool IsDir(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

void FindCgroupDirs(const std::string& path, int depth, std::set<std::string>* out) {
  if (depth > 6) return;
  for (const auto& n : Entries(path)) {
    std::string child = path + "/" + n;
    if (!IsDir(child)) continue;
    if (n.rfind("isobench", 0) == 0) out->insert(child);
    FindCgroupDirs(child, depth + 1, out);
  }
}

void Walk(const std::string& path, std::set<std::string>* out) {
  for (const auto& n : Entries(path)) {
    std::string child = path + "/" + n;
    out->insert(child);
    if (IsDir(child)) Walk(child, out);
  }
}

std::string Readlink(const std::string& path) {
  char buf[4096];
  ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

void Descendants(pid_t root, std::set<std::string>* out, std::set<std::string>* netns,
                 std::set<std::string>* hypervisors) {
  std::map<pid_t, std::vector<pid_t>> children;
  std::map<pid_t, std::string> comm;
  auto pids = ListPids();
  for (pid_t pid : pids.ok() ? *pids : std::vector<pid_t>()) {
    auto stat = ReadProcStat(pid);
    if (!stat.ok()) continue;  // exited meanwhile
    std::string n = std::to_string(pid);
    children[stat->ppid].push_back(pid);
    comm[pid] = stat->comm;
    if (comm[pid].rfind("qemu-system", 0) == 0) {
      // Only isobench's guests: libvirt names them `guest=isobench-...`, raw-qemu rows
      // `isobench-...`; other people's VMs on a shared host are not ours to count.
      auto cmdline = ReadFile("/proc/" + n + "/cmdline");
      if (cmdline.ok() && cmdline->find("isobench-") != std::string::npos)
        hypervisors->insert(n + " " + comm[pid]);
    }
    std::string ns = Readlink("/proc/" + n + "/ns/net");
    if (!ns.empty()) netns->insert(ns);
  }
  std::function<void(pid_t)> visit = [&](pid_t p) {
    for (pid_t c : children[p]) {
      out->insert(std::to_string(c) + " " + comm[c]);
      visit(c);
    }
  };
  visit(root);
}

template <typename Set>
void DiffSet(const char* what, const Set& before, const Set& after, std::vector<std::string>* out) {
  for (const auto& x : after)
    if (!before.count(x)) out->push_back(std::string("+ ") + what + " " + x);
  for (const auto& x : before)
    if (!after.count(x)) out->push_back(std::string("- ") + what + " " + x);
}

}  // namespace

bool IsWorkdirCache(const std::string& name) { return name == "images" || name == "kernels"; }

HostState CaptureHostState(const std::string& workdir) {
  HostState state;
  if (auto mounts = ReadMountInfo(); mounts.ok())
    for (const auto& m : *mounts) state.mounts.insert(m.target + " " + m.fstype);
  FindCgroupDirs("/sys/fs/cgroup", 0, &state.cgroup_dirs);
  for (const auto& n : Entries("/run/netns")) state.netns.insert("/run/netns/" + n);
  for (const auto& n : Entries("/sys/class/net")) state.links.insert(n);
  if (auto guarded = GuardedBridges(); guarded.ok())
    for (const auto& b : *guarded) state.guards.insert(kGuardTablePrefix + b);
  for (const auto& n : Entries("/sys/block")) {
    if (n.rfind("loop", 0) != 0) continue;
    // Bound devices only: an unbound one has no backing_file.
    auto backing = ReadFile("/sys/block/" + n + "/loop/backing_file");
    if (backing.ok()) {
      std::string file = *backing;
      while (!file.empty() && file.back() == '\n') file.pop_back();
      state.loop_devices.insert(n + " " + file);
    }
  }
  Descendants(::getpid(), &state.descendants, &state.netns, &state.hypervisors);
  for (const auto& n : Entries("/proc/self/fd")) {
    std::string target = Readlink("/proc/self/fd/" + n);
    // The fd the listing itself uses is gone by now; skip dangling reads.
    if (!target.empty()) state.fds.insert(n + " -> " + target);
  }
  // Everything under the work directory but its caches. The top folders themselves
  // (containers/, scratch/, ...) are made once and kept; their contents are per run.
  for (const auto& sub : Entries(workdir)) {
    if (IsWorkdirCache(sub)) continue;
    std::string path = workdir + "/" + sub;
    if (IsDir(path))
      Walk(path, &state.workdir_entries);
    else
      state.workdir_entries.insert(path);
  }
  return state;
}

std::vector<std::string> DiffHostState(const HostState& before, const HostState& after) {
  std::vector<std::string> out;
  DiffSet("mount", before.mounts, after.mounts, &out);
  DiffSet("cgroup", before.cgroup_dirs, after.cgroup_dirs, &out);
  DiffSet("netns", before.netns, after.netns, &out);
  DiffSet("link", before.links, after.links, &out);
  DiffSet("nft table", before.guards, after.guards, &out);
  DiffSet("loop", before.loop_devices, after.loop_devices, &out);
  DiffSet("process", before.descendants, after.descendants, &out);
  DiffSet("hypervisor", before.hypervisors, after.hypervisors, &out);
  DiffSet("fd", before.fds, after.fds, &out);
  DiffSet("file", before.workdir_entries, after.workdir_entries, &out);
  return out;
}

std::string JoinLines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

}  // namespace isobench::harness
