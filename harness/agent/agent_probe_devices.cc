// Device probes (PROBES.md 27-29): what /dev holds, and whether the device policy
// (the devices cgroup or its eBPF equivalent, plus CAP_MKNOD) lets the instance reach
// a device it was not given.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <set>

#include "harness/agent/agent.h"
#include "harness/agent/agent_probes.h"

namespace isobench::agent {
namespace {

std::string DevNumber(dev_t dev) {
  return std::to_string(major(dev)) + ":" + std::to_string(minor(dev));
}

// 27: /dev holds only the expected device nodes (name -> "major:minor") and the
// expected other entries (pts, shm, mqueue, fd symlinks, ...).
Outcome ProbeDevContents(const json& params) {
  std::map<std::string, std::string> devices =
      params.value("devices", std::map<std::string, std::string>{{"null", "1:3"},
                                                                 {"zero", "1:5"},
                                                                 {"full", "1:7"},
                                                                 {"random", "1:8"},
                                                                 {"urandom", "1:9"},
                                                                 {"tty", "5:0"},
                                                                 {"ptmx", "5:2"}});
  std::set<std::string> others;
  for (const auto& o :
       params.value("others", std::vector<std::string>{"pts", "shm", "mqueue", "fd", "stdin",
                                                       "stdout", "stderr", "core", "ptmx"}))
    others.insert(o);
  json observed = json::object();
  std::vector<std::string> unexpected;
  for (const auto& name : ListDirectory("/dev")) {
    std::string path = "/dev/" + name;
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) continue;
    bool is_device = S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode);
    std::string kind = S_ISCHR(st.st_mode)   ? "c " + DevNumber(st.st_rdev)
                       : S_ISBLK(st.st_mode) ? "b " + DevNumber(st.st_rdev)
                       : S_ISDIR(st.st_mode) ? "dir"
                       : S_ISLNK(st.st_mode) ? "symlink"
                                             : "file";
    observed[name] = kind;
    if (is_device) {
      auto it = devices.find(name);
      bool ok = it != devices.end() && S_ISCHR(st.st_mode) && it->second == DevNumber(st.st_rdev);
      if (!ok) unexpected.push_back(name + " (" + kind + ")");
    } else if (!others.count(name)) {
      unexpected.push_back(name + " (" + kind + ")");
    }
  }
  if (!unexpected.empty()) {
    std::string list;
    for (size_t i = 0; i < unexpected.size() && i < 8; ++i) list += (i ? ", " : "") + unexpected[i];
    if (unexpected.size() > 8) list += ", ...";
    return Fail(std::to_string(unexpected.size()) + " unexpected /dev entr" +
                    (unexpected.size() == 1 ? "y: " : "ies: ") + list,
                observed);
  }
  return Pass("/dev holds only the minimal device set", observed);
}

struct DeviceSpec {
  std::string name;
  bool block = false;
  unsigned major_number = 0, minor_number = 0;
};

std::vector<DeviceSpec> ParseDevices(const json& list) {
  std::vector<DeviceSpec> out;
  for (const auto& d : list)
    out.push_back({d.at("name").get<std::string>(), d.value("type", "c") == "b",
                   d.at("major").get<unsigned>(), d.at("minor").get<unsigned>()});
  return out;
}

// Creates a node for `d` in `dir` and opens it read-only (never reads); removes it.
json MknodAndOpen(const std::string& dir, const DeviceSpec& d) {
  json out = json::object();
  if (dir.empty()) return {{"mknod", "no writable directory"}};
  std::string path = dir + "/" + d.name;
  mode_t mode = (d.block ? S_IFBLK : S_IFCHR) | 0600;
  if (::mknod(path.c_str(), mode, makedev(d.major_number, d.minor_number)) != 0) {
    out["mknod"] = ErrnoName(errno);
    return out;
  }
  out["mknod"] = "0";
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  out["open"] = ErrnoName(fd < 0 ? errno : 0);
  if (fd >= 0) ::close(fd);
  ::unlink(path.c_str());
  return out;
}

// A scratch directory that allows device nodes: /dev itself (a tmpfs without nodev in
// runc's and our layout) first, then the usual scratch places.
std::string DeviceScratchDir() {
  std::string leaf = "/.isobench-dev-" + std::to_string(::getpid());
  for (const char* base : {"/dev", "/tmp", ""}) {
    std::string path = std::string(base) + leaf;
    if (::mkdir(path.c_str(), 0700) == 0) return path;
  }
  return {};
}

// 28: denied devices cannot be opened: /dev/kmsg, /dev/mem and the host's disks,
// whether they are present in /dev or created with mknod.
Outcome ProbeDeniedDevices(const json& params) {
  std::vector<DeviceSpec> devices = ParseDevices(
      params.value("devices", json::array({{{"name", "kmsg"}, {"major", 1}, {"minor", 11}},
                                           {{"name", "mem"}, {"major", 1}, {"minor", 1}}})));
  std::string dir = DeviceScratchDir();
  json observed = json::object();
  // Without a directory to mknod in, the device policy for nodes an instance makes
  // itself is never tried: undecided, not a pass.
  if (dir.empty())
    return Undecided("no writable directory under /dev, /tmp or / to mknod in", observed);
  std::vector<std::string> opened;
  for (const auto& d : devices) {
    json o = json::object();
    std::string existing = "/dev/" + d.name;
    struct stat st;
    if (::stat(existing.c_str(), &st) == 0 && (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))) {
      int fd = ::open(existing.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
      o["open_existing"] = ErrnoName(fd < 0 ? errno : 0);
      if (fd >= 0) {
        ::close(fd);
        opened.push_back(existing);
      }
    }
    json made = MknodAndOpen(dir, d);
    o["created"] = made;
    if (made.value("open", "") == "0")
      opened.push_back(d.name + " (" + (d.block ? "b " : "c ") + std::to_string(d.major_number) +
                       ":" + std::to_string(d.minor_number) + ", made with mknod)");
    observed[d.name] = o;
  }
  if (!dir.empty()) ::rmdir(dir.c_str());
  if (!opened.empty()) {
    std::string list;
    for (const auto& o : opened) list += (list.empty() ? "" : ", ") + o;
    return Fail("denied device opened: " + list, observed);
  }
  return Pass("none of " + std::to_string(devices.size()) + " denied devices could be opened",
              observed);
}

// 29: a block device node cannot be made, and /dev lists no block device.
Outcome ProbeMknodBlock(const json& params) {
  std::vector<DeviceSpec> disks = ParseDevices(params.value(
      "disks", json::array({{{"name", "disk"}, {"type", "b"}, {"major", 8}, {"minor", 0}}})));
  json observed = json::object();
  std::vector<std::string> problems;
  json listed = json::array();
  for (const auto& name : ListDirectory("/dev")) {
    struct stat st;
    if (::lstat(("/dev/" + name).c_str(), &st) == 0 && S_ISBLK(st.st_mode)) listed.push_back(name);
  }
  observed["block_devices_in_dev"] = listed;
  if (!listed.empty())
    problems.push_back("/dev lists block devices (" + listed[0].get<std::string>() + ")");
  std::string dir = DeviceScratchDir();
  if (dir.empty())
    return Undecided("no writable directory under /dev, /tmp or / to mknod in", observed);
  for (auto d : disks) {
    d.block = true;
    json made = MknodAndOpen(dir, d);
    observed["mknod_" + d.name] = made;
    if (made.value("mknod", "") == "0")
      problems.push_back("mknod(S_IFBLK " + std::to_string(d.major_number) + ":" +
                         std::to_string(d.minor_number) + ") succeeded" +
                         (made.value("open", "") == "0" ? " and the disk opened" : ""));
  }
  if (!dir.empty()) ::rmdir(dir.c_str());
  if (!problems.empty()) {
    std::string why;
    for (const auto& p : problems) why += (why.empty() ? "" : "; ") + p;
    return Fail(why, observed);
  }
  std::string err = disks.empty() ? "" : observed["mknod_" + disks[0].name].value("mknod", "");
  return Pass("mknod of a block device fails (" + err + "); no block device in /dev", observed);
}

}  // namespace

void AddDeviceProbes(std::vector<ProbeDef>* probes) {
  probes->push_back({"dev_contents", 27, Scope::kKernel, ProbeDevContents});
  probes->push_back({"denied_devices", 28, Scope::kKernel, ProbeDeniedDevices});
  probes->push_back({"mknod_block", 29, Scope::kKernel, ProbeMknodBlock});
}

}  // namespace isobench::agent
