#include "container/oci/oci_spec.h"

#include <sched.h>

#include <cmath>

#include "container/capabilities.h"
#include "container/mounts.h"
#include "container/rlimits.h"
#include "container/seccomp.h"
#include "harness/security_defaults.h"

namespace isobench::container::oci {

using harness::Error;
using harness::Result;
using json = nlohmann::json;

namespace {

json CapabilityNames(uint64_t mask) {
  json names = json::array();
  std::string formatted = FormatCapabilities(mask);  // "CAP_CHOWN,CAP_KILL"
  size_t start = 0;
  while (start < formatted.size()) {
    size_t comma = formatted.find(',', start);
    if (comma == std::string::npos) comma = formatted.size();
    std::string name = formatted.substr(start, comma - start);
    if (!name.empty()) names.push_back(name);
    start = comma + 1;
  }
  return names;
}

const char* OciRlimitName(const std::string& name) {
  if (name == "nofile") return "RLIMIT_NOFILE";
  if (name == "core") return "RLIMIT_CORE";
  if (name == "memlock") return "RLIMIT_MEMLOCK";
  return nullptr;
}

json IdMappings(const std::vector<IdMapping>& map) {
  json out = json::array();
  for (const auto& m : map)
    out.push_back({{"containerID", m.inside}, {"hostID", m.outside}, {"size", m.count}});
  return out;
}

}  // namespace

bool IsRuntimeDefaultProfile(const std::string& profile, const std::string& runtime) {
  return profile == "runtime-default" || profile == runtime + "-default";
}

json RuntimeDefaultConfig(const json& default_spec, const BundleParams& bundle) {
  json config = default_spec;
  config["process"]["args"] = bundle.args;
  config["process"]["terminal"] = false;
  config["root"]["path"] = bundle.rootfs;
  config["linux"]["cgroupsPath"] = bundle.cgroups_path;
  for (const auto& [k, v] : bundle.annotations) config["annotations"][k] = v;
  return config;
}

json DefaultSeccomp(const std::string& arch) {
  json denied = json::array();
  for (const auto& name : DefaultDeniedSyscalls()) denied.push_back(name);
  json syscalls = json::array();
  syscalls.push_back({{"names", denied}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", EPERM}});
  // One masked-equality rule per flag: rules of one entry are ANDed, entries ORed.
  for (uint64_t flag : {CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID,
                        CLONE_NEWNET, CLONE_NEWCGROUP})
    syscalls.push_back(
        {{"names", {"clone"}},
         {"action", "SCMP_ACT_ERRNO"},
         {"errnoRet", EPERM},
         {"args",
          {{{"index", 0}, {"value", flag}, {"valueTwo", flag}, {"op", "SCMP_CMP_MASKED_EQ"}}}}});
  // clone3 passes its flags in memory a filter cannot read: ENOSYS makes libc fall back.
  syscalls.push_back({{"names", {"clone3"}}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", ENOSYS}});
  return {{"defaultAction", "SCMP_ACT_ALLOW"}, {"architectures", {arch}}, {"syscalls", syscalls}};
}

std::vector<std::string> CreateFlags(const harness::SecurityProfile& profile) {
  std::vector<std::string> flags;
  if (!profile.pivot_root) flags.push_back("--no-pivot");
  return flags;
}

Result<json> ConfigForSpec(const json& default_spec, const harness::InstanceSpec& spec,
                           const BundleParams& bundle) {
  const harness::SecurityProfile& p = spec.profile;
  // "bridge": a new network namespace like "none"; the backend adds the veth between
  // `create` and `start`, as a CNI plugin does.
  if (spec.network == "bridge" && !p.net_ns)
    return Error("oci: network `bridge` needs a network namespace (profile.net_ns)", EINVAL);
  if (spec.network != "none" && spec.network != "bridge")
    return Error("oci: network `" + spec.network +
                     "` is not supported (\"none\": loopback; \"bridge\": veth into the host's "
                     "bridge)",
                 EINVAL);
  if (p.user_ns && bundle.userns_map.empty()) return Error("oci: user_ns needs an id map", EINVAL);

  json config = default_spec;
  if (!config.is_object()) config = json::object();
  for (const auto& [k, v] : bundle.annotations) config["annotations"][k] = v;

  // process
  json& process = config["process"];
  process["terminal"] = false;
  process["args"] = bundle.args;
  process["user"] = {{"uid", 0}, {"gid", 0}};
  process["cwd"] = "/";
  process["env"] = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    "HOME=/root"};
  process["noNewPrivileges"] = p.no_new_privs;
  uint64_t keep = bundle.host_bounding;
  if (p.drop_capabilities) {
    bool defaults = p.capabilities.empty();
    ISO_ASSIGN_OR_RETURN(
        uint64_t wanted,
        ParseCapabilities(defaults ? harness::DockerDefaultCapabilities() : p.capabilities));
    if (!defaults && (wanted & ~bundle.host_bounding))
      return Error(
          "oci: the host cannot grant " + FormatCapabilities(wanted & ~bundle.host_bounding),
          EPERM);
    keep = wanted & bundle.host_bounding;
  }
  // Inheritable and ambient stay empty (the CVE-2022-24769 lesson, as in the native runtime).
  json caps = CapabilityNames(keep);
  process["capabilities"] = {{"bounding", caps}, {"effective", caps}, {"permitted", caps}};
  process.erase("rlimits");
  if (p.rlimits) {
    json rlimits = json::array();
    for (auto setting : DefaultRlimits()) {
      auto it = bundle.host_rlimits.find(setting.resource);
      if (it != bundle.host_rlimits.end()) setting = ClampRlimit(setting, it->second);
      rlimits.push_back({{"type", OciRlimitName(setting.name)},
                         {"soft", static_cast<uint64_t>(setting.value.rlim_cur)},
                         {"hard", static_cast<uint64_t>(setting.value.rlim_max)}});
    }
    process["rlimits"] = rlimits;
  }

  config["root"] = {{"path", bundle.rootfs}, {"readonly", p.read_only_root}};
  config.erase("hostname");
  if (p.uts_ns) config["hostname"] = spec.hostname.empty() ? spec.name : spec.hostname;

  // mounts
  json mounts = json::array();
  mounts.push_back({{"destination", "/proc"},
                    {"type", "proc"},
                    {"source", "proc"},
                    {"options", {"nosuid", "noexec", "nodev"}}});
  if (p.minimal_dev) {
    mounts.push_back({{"destination", "/dev"},
                      {"type", "tmpfs"},
                      {"source", "tmpfs"},
                      {"options", {"nosuid", "strictatime", "mode=755", "size=65536k"}}});
    mounts.push_back(
        {{"destination", "/dev/pts"},
         {"type", "devpts"},
         {"source", "devpts"},
         {"options", {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}}});
  } else {
    // The weakened profile: the host's /dev, devices and all.
    mounts.push_back({{"destination", "/dev"},
                      {"type", "bind"},
                      {"source", "/dev"},
                      {"options", {"rbind", "nosuid"}}});
  }
  mounts.push_back({{"destination", "/dev/shm"},
                    {"type", "tmpfs"},
                    {"source", "shm"},
                    {"options", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}}});
  if (p.ipc_ns)
    mounts.push_back({{"destination", "/dev/mqueue"},
                      {"type", "mqueue"},
                      {"source", "mqueue"},
                      {"options", {"nosuid", "noexec", "nodev"}}});
  json sys_options = {"nosuid", "noexec", "nodev"};
  if (p.read_only_sys) sys_options.push_back("ro");
  if (p.user_ns && !p.net_ns) {
    // sysfs may only be mounted by the owner of the network namespace.
    json bind_options = {"rbind", "nosuid", "noexec", "nodev"};
    if (p.read_only_sys) bind_options.push_back("ro");
    mounts.push_back(
        {{"destination", "/sys"}, {"type", "bind"}, {"source", "/sys"}, {"options", bind_options}});
  } else {
    mounts.push_back({{"destination", "/sys"},
                      {"type", "sysfs"},
                      {"source", "sysfs"},
                      {"options", sys_options}});
    json cg_options = {"nosuid", "noexec", "nodev", "relatime"};
    if (p.read_only_sys) cg_options.push_back("ro");
    mounts.push_back({{"destination", "/sys/fs/cgroup"},
                      {"type", "cgroup"},
                      {"source", "cgroup"},
                      {"options", cg_options}});
  }
  for (const auto& v : spec.volumes) {
    if (v.host_path.find("..") != std::string::npos ||
        v.guest_path.find("..") != std::string::npos || v.guest_path.empty() ||
        v.guest_path[0] != '/' || v.guest_path == "/")
      return Error("oci: bad volume `" + v.host_path + "` -> `" + v.guest_path + "`", EINVAL);
    json options = {"rbind"};
    if (v.read_only) options.push_back("ro");
    mounts.push_back({{"destination", v.guest_path},
                      {"type", "bind"},
                      {"source", v.host_path},
                      {"options", options}});
  }
  config["mounts"] = mounts;

  // linux
  json& linux = config["linux"];
  json namespaces = json::array();
  auto add_ns = [&](bool on, const char* type) {
    if (on) namespaces.push_back({{"type", type}});
  };
  add_ns(p.pid_ns, "pid");
  add_ns(p.net_ns, "network");
  add_ns(p.ipc_ns, "ipc");
  add_ns(p.uts_ns, "uts");
  add_ns(p.mount_ns, "mount");
  add_ns(p.cgroup_ns, "cgroup");
  add_ns(p.user_ns, "user");
  add_ns(p.time_ns, "time");
  linux["namespaces"] = namespaces;
  linux.erase("uidMappings");
  linux.erase("gidMappings");
  if (p.user_ns) {
    linux["uidMappings"] = IdMappings(bundle.userns_map);
    linux["gidMappings"] = IdMappings(bundle.userns_map);
  }
  linux.erase("maskedPaths");
  linux.erase("readonlyPaths");
  if (p.mask_paths) {
    linux["maskedPaths"] = harness::DefaultMaskedPaths();
    linux["readonlyPaths"] = harness::DefaultReadonlyPaths();
  }
  json resources = json::object();
  // Deny every device, then the runtime adds the OCI default set (null, zero, full,
  // random, urandom, tty, ptmx, pts); the weakened profile allows all.
  resources["devices"] = {{{"allow", !p.minimal_dev}, {"access", "rwm"}}};
  if (p.memory_limit && spec.memory_bytes > 0) {
    resources["memory"] = {{"limit", spec.memory_bytes}};
    // Without a memsw limit the instance could swap instead of being OOM-killed.
    if (bundle.memsw) resources["memory"]["swap"] = spec.memory_bytes;
  }
  if (p.pids_limit && spec.pids_limit > 0) resources["pids"] = {{"limit", spec.pids_limit}};
  ISO_RETURN_IF_ERROR(harness::ValidateIoWeight(spec.io_weight));
  if (spec.io_weight > 0) resources["blockIO"] = {{"weight", spec.io_weight}};
  if (p.cpu_limit && spec.cpu_quota > 0) {
    constexpr int64_t kPeriodUs = 100000;
    int64_t quota = std::max<int64_t>(1000, std::llround(spec.cpu_quota * kPeriodUs));
    resources["cpu"] = {{"quota", quota}, {"period", kPeriodUs}};
  }
  linux["resources"] = resources;
  linux["cgroupsPath"] = bundle.cgroups_path;
  linux.erase("seccomp");
  if (p.seccomp) linux["seccomp"] = DefaultSeccomp(bundle.seccomp_arch);
  return config;
}

}  // namespace isobench::container::oci
