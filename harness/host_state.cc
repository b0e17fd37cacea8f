#include "harness/host_state.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <functional>
#include <map>
#include <sstream>

#include "harness/fd.h"

namespace isobench::harness {
namespace {

std::vector<std::string> ListDir(const std::string& path) {
  std::vector<std::string> names;
  DIR* dir = ::opendir(path.c_str());
  if (!dir) return names;
  while (struct dirent* e = ::readdir(dir)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  ::closedir(dir);
  return names;
}

bool IsDir(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

void FindCgroupDirs(const std::string& path, int depth, std::set<std::string>* out) {
  if (depth > 6) return;
  for (const auto& n : ListDir(path)) {
    std::string child = path + "/" + n;
    if (!IsDir(child)) continue;
    if (n.rfind("isobench", 0) == 0) out->insert(child);
    FindCgroupDirs(child, depth + 1, out);
  }
}

void Walk(const std::string& path, std::set<std::string>* out) {
  for (const auto& n : ListDir(path)) {
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
  for (const auto& n : ListDir("/proc")) {
    pid_t pid = std::atoi(n.c_str());
    if (pid <= 0) continue;
    auto stat = ReadFile("/proc/" + n + "/stat");
    if (!stat.ok()) continue;
    // pid (comm) state ppid ...: comm may contain spaces and parentheses.
    size_t close = stat->rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat->substr(close + 2));
    char state;
    pid_t ppid;
    rest >> state >> ppid;
    children[ppid].push_back(pid);
    comm[pid] = stat->substr(stat->find('(') + 1, close - stat->find('(') - 1);
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

HostState CaptureHostState(const std::string& workdir) {
  HostState state;
  if (auto info = ReadFile("/proc/self/mountinfo"); info.ok()) {
    std::istringstream in(*info);
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream f(line);
      std::string id, parent, dev, root, target, word;
      f >> id >> parent >> dev >> root >> target;
      while (f >> word && word != "-") {
      }
      std::string fstype;
      f >> fstype;
      state.mounts.insert(target + " " + fstype);
    }
  }
  FindCgroupDirs("/sys/fs/cgroup", 0, &state.cgroup_dirs);
  for (const auto& n : ListDir("/run/netns")) state.netns.insert("/run/netns/" + n);
  for (const auto& n : ListDir("/sys/class/net")) state.links.insert(n);
  for (const auto& n : ListDir("/sys/block")) {
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
  for (const auto& n : ListDir("/proc/self/fd")) {
    std::string target = Readlink("/proc/self/fd/" + n);
    // The fd the listing itself uses is gone by now; skip dangling reads.
    if (!target.empty()) state.fds.insert(n + " -> " + target);
  }
  for (const char* sub : {"containers", "vms", "run", "oci", "docker"})
    Walk(workdir + "/" + sub, &state.workdir_entries);
  return state;
}

std::vector<std::string> DiffHostState(const HostState& before, const HostState& after) {
  std::vector<std::string> out;
  DiffSet("mount", before.mounts, after.mounts, &out);
  DiffSet("cgroup", before.cgroup_dirs, after.cgroup_dirs, &out);
  DiffSet("netns", before.netns, after.netns, &out);
  DiffSet("link", before.links, after.links, &out);
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
