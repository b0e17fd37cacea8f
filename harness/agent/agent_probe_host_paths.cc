// Host-path probes (PROBES.md 24-26): what of the host reaches the instance through
// its file system: mount propagation, the host's runtime sockets, host directories
// mounted in.
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <set>

#include "harness/agent/agent.h"
#include "harness/agent/agent_probes.h"

namespace isobench::agent {
namespace {

// 24 (inside half): no mount of the instance has shared propagation, and (stage
// "mount") a tmpfs is mounted with a token as its source for the host to look for in
// its own mount table; stage "cleanup" removes it.
Outcome ProbeMountPropagation(const json& params) {
  std::string stage = params.value("stage", std::string("mount"));
  std::string token = params.value("token", std::string("isobench-prop"));
  std::string target_param = params.value("target", std::string());
  if (stage == "cleanup") {
    if (!target_param.empty()) {
      ::umount2(target_param.c_str(), MNT_DETACH);
      ::rmdir(target_param.c_str());
    }
    return Pass("cleaned up", {{"target", target_param}});
  }
  json observed = json::object();
  std::vector<std::string> shared;
  for (const auto& m : MountTable())
    if (m.propagation.find("shared:") != std::string::npos)
      shared.push_back(m.target + " " + m.propagation);
  observed["shared_mounts"] = shared;
  std::string target = "/tmp/" + token;
  if (::mkdir(target.c_str(), 0700) != 0 && errno != EEXIST) {
    target = "/dev/shm/" + token;
    if (::mkdir(target.c_str(), 0700) != 0 && errno != EEXIST) target.clear();
  }
  observed["target"] = target;
  if (!target.empty()) {
    int m = ::mount(token.c_str(), target.c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                    "size=4k");
    observed["mount"] = ErrnoName(m == 0 ? 0 : errno);
    if (m != 0) ::rmdir(target.c_str());
  }
  if (!shared.empty())
    return Fail(
        std::to_string(shared.size()) + " mount(s) with shared propagation, e.g. " + shared[0],
        observed);
  return Pass("no mount has shared propagation", observed);
}

// Connects to a unix socket of any type without blocking; true when it answers.
bool UnixReachable(const std::string& address, bool abstract, std::string* result) {
  for (int type : {SOCK_STREAM, SOCK_SEQPACKET, SOCK_DGRAM}) {
    int fd = ::socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) continue;
    struct sockaddr_un addr = {};
    addr.sun_family = AF_UNIX;
    size_t len = std::min(address.size(), sizeof addr.sun_path - 2);
    std::memcpy(addr.sun_path + (abstract ? 1 : 0), address.data(), len);
    socklen_t addr_len =
        static_cast<socklen_t>(offsetof(struct sockaddr_un, sun_path) + len + (abstract ? 1 : 0));
    int r = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), addr_len);
    int err = r == 0 ? 0 : errno;
    ::close(fd);
    *result = ErrnoName(err);
    if (r == 0 || err == EINPROGRESS || err == EAGAIN) return true;
    if (err != EPROTOTYPE) return false;
  }
  return false;
}

// 25: no container-runtime, libvirt or docker socket is reachable: neither the host's
// listening sockets (the host passes their paths and abstract names) nor the usual
// paths.
Outcome ProbeRuntimeSockets(const json& params) {
  std::vector<std::string> paths = {"/run/docker.sock",
                                    "/var/run/docker.sock",
                                    "/run/containerd/containerd.sock",
                                    "/run/libvirt/libvirt-sock",
                                    "/var/run/libvirt/libvirt-sock",
                                    "/run/libvirt/virtqemud-sock",
                                    "/run/crio/crio.sock",
                                    "/run/podman/podman.sock",
                                    "/run/systemd/private",
                                    "/run/dbus/system_bus_socket",
                                    "/run/runc.sock"};
  if (params.value("check_paths", true))
    for (const auto& p : params.value("paths", std::vector<std::string>{})) paths.push_back(p);
  else
    paths.clear();
  std::vector<std::string> abstract;
  if (params.value("check_abstract", true))
    abstract = params.value("abstract", std::vector<std::string>{});
  json observed = json::object();
  std::vector<std::string> reachable;
  std::set<std::string> seen;
  for (const auto& path : paths) {
    if (!seen.insert(path).second) continue;
    struct stat st;
    if (::stat(path.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
    std::string result;
    bool ok = UnixReachable(path, false, &result);
    observed[path] = result;
    if (ok) reachable.push_back(path);
  }
  for (const auto& name : abstract) {
    std::string result;
    bool ok = UnixReachable(name, true, &result);
    if (ok) reachable.push_back("@" + name);
    if (ok || observed.size() < 32) observed["@" + name] = result;
  }
  observed["checked_paths"] = seen.size();
  observed["checked_abstract"] = abstract.size();
  if (!reachable.empty())
    return Fail(
        std::to_string(reachable.size()) + " host socket(s) reachable, e.g. " + reachable[0],
        observed);
  return Pass("none of " + std::to_string(seen.size() + abstract.size()) +
                  " host/runtime sockets is reachable",
              observed);
}

bool IsAncestorOrSelf(const std::string& ancestor, const std::string& path) {
  return ancestor == "/" || path == ancestor || path.rfind(ancestor + "/", 0) == 0;
}

// 26: no host directory (/, /boot, /etc, /lib, /usr, /proc, /sys, /dev) is mounted in.
// The host passes, for each, the device of its filesystem and its path inside it. A
// mount of the instance on that device whose root (mountinfo's 4th field) is the
// directory, inside it, or above it exposes it; a bind of some other file of the same
// filesystem (a runtime's per-container resolv.conf, a channel directory, /dev/null as
// a mask) does not. Configured volumes are allowed. In a VM device numbers belong to
// another kernel: there only host-sharing filesystems (9p, virtiofs, NFS, FUSE) count.
Outcome ProbeHostMounts(const json& params) {
  bool vm = params.value("_mode", "") == "vm";
  std::set<std::string> volumes;
  for (const auto& v : params.value("volumes", std::vector<std::string>{})) volumes.insert(v);
  struct HostDir {
    std::string path, dev, fs_path;
  };
  std::vector<HostDir> host;
  for (const auto& h : params.value("host", json::array()))
    host.push_back({h.at("path").get<std::string>(), h.at("dev").get<std::string>(),
                    h.value("fs_path", h.at("path").get<std::string>())});
  static const std::set<std::string> kSharing = {"9p", "virtiofs", "nfs", "nfs4", "cifs", "smb3"};
  json exposed = json::array();
  for (const auto& m : MountTable()) {
    if (volumes.count(m.target)) continue;
    if (vm) {
      if (kSharing.count(m.fstype) || m.fstype.rfind("fuse", 0) == 0)
        exposed.push_back({{"target", m.target}, {"fstype", m.fstype}, {"source", m.source}});
      continue;
    }
    for (const auto& h : host) {
      if (m.dev != h.dev) continue;
      // "/" itself is exposed only by a mount of the whole filesystem: every other file
      // of it lies below "/".
      bool exposes = IsAncestorOrSelf(m.root, h.fs_path) ||
                     (h.fs_path != "/" && IsAncestorOrSelf(h.fs_path, m.root));
      if (!exposes) continue;
      exposed.push_back(
          {{"target", m.target}, {"root", m.root}, {"fstype", m.fstype}, {"host_path", h.path}});
      break;
    }
  }
  json observed = {{"exposed", exposed}};
  if (!exposed.empty()) {
    const json& e = exposed[0];
    std::string what = vm ? e["fstype"].get<std::string>() + " share"
                          : "host " + e["host_path"].get<std::string>() + " (" +
                                e["fstype"].get<std::string>() + " " +
                                e["root"].get<std::string>() + ")";
    return Fail(std::to_string(exposed.size()) + " host mount(s) inside, e.g. " + what + " at " +
                    e["target"].get<std::string>(),
                observed);
  }
  return Pass(vm ? "no host-sharing filesystem mounted" : "no host directory mounted in", observed);
}

}  // namespace

void AddHostPathProbes(std::vector<ProbeDef>* probes) {
  probes->push_back({"mount_propagation", 24, Scope::kInstance, ProbeMountPropagation});
  probes->push_back({"runtime_sockets", 25, Scope::kInstance, ProbeRuntimeSockets});
  probes->push_back({"host_mounts", 26, Scope::kInstance, ProbeHostMounts});
}

}  // namespace isobench::agent
