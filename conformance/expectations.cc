#include "conformance/expectations.h"

#include <sys/capability.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

namespace isobench::conformance {

using harness::Error;
using harness::Result;
using json = nlohmann::json;

HostLimits ReadHostLimits() {
  HostLimits host;
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("CapBnd:", 0) == 0) host.bounding_set = std::stoull(line.substr(7), nullptr, 16);
  for (int r : {RLIMIT_NOFILE, RLIMIT_CORE, RLIMIT_MEMLOCK, RLIMIT_NPROC, RLIMIT_STACK}) {
    struct rlimit value;
    if (::getrlimit(r, &value) == 0) host.rlimits[r] = value;
  }
  return host;
}

uint64_t ForbiddenByDefault() {
  return (1ull << CAP_SYS_ADMIN) | (1ull << CAP_SYS_PTRACE) | (1ull << CAP_SYS_MODULE) |
         (1ull << CAP_SYS_RAWIO) | (1ull << CAP_DAC_READ_SEARCH);
}

std::map<std::string, RlimitPair> DefaultRlimits(const HostLimits& host) {
  std::map<std::string, RlimitPair> out;
  for (const harness::DefaultRlimit& w : harness::DefaultRlimits()) {
    RlimitPair p{w.soft, w.hard};
    auto it = host.rlimits.find(w.resource);
    if (it != host.rlimits.end()) {
      p.hard = std::min<uint64_t>(p.hard, it->second.rlim_max);
      p.soft = std::min(p.soft, p.hard);
    }
    out[w.name] = p;
  }
  return out;
}

Result<std::vector<IdRange>> ParseIdMapOption(const std::string& option) {
  if (option.empty()) return std::vector<IdRange>{{0, 100000, 65536}};
  std::vector<IdRange> ranges;
  if (option.find(':') == std::string::npos) {
    char* end = nullptr;
    uint64_t base = std::strtoull(option.c_str(), &end, 10);
    if (*end != '\0') return Error("bad id map `" + option + "`", EINVAL);
    return std::vector<IdRange>{{0, base, 65536}};
  }
  std::stringstream in(option);
  std::string item;
  while (std::getline(in, item, ',')) {
    IdRange r;
    char extra;
    if (std::sscanf(item.c_str(), "%lu:%lu:%lu%c", &r.inside, &r.outside, &r.count, &extra) != 3)
      return Error("bad id map entry `" + item + "` (want inside:outside:count)", EINVAL);
    ranges.push_back(r);
  }
  return ranges;
}

Result<uint64_t> CapabilityMask(const std::vector<std::string>& names) {
  uint64_t mask = 0;
  for (const auto& raw : names) {
    std::string name = raw;
    std::transform(name.begin(), name.end(), name.begin(), ::tolower);
    if (name.rfind("cap_", 0) != 0) name = "cap_" + name;
    cap_value_t value;
    if (cap_from_name(name.c_str(), &value) != 0)
      return Error("unknown capability `" + raw + "`", EINVAL);
    mask |= 1ull << value;
  }
  return mask;
}

std::string CapabilityNames(uint64_t mask) {
  std::string out;
  for (int bit = 0; bit < 64; ++bit) {
    if (!(mask & (1ull << bit))) continue;
    char* name = cap_to_name(bit);
    std::string n = name ? name : std::to_string(bit);
    if (name) cap_free(name);
    if (n.rfind("cap_", 0) == 0) n = n.substr(4);
    std::transform(n.begin(), n.end(), n.begin(), ::toupper);
    out += (out.empty() ? "" : ",") + n;
  }
  return out.empty() ? "none" : out;
}

std::string RlimitName(const std::string& oci_type) {
  std::string name = oci_type;
  if (name.rfind("RLIMIT_", 0) == 0) name = name.substr(7);
  std::transform(name.begin(), name.end(), name.begin(), ::tolower);
  static const char* kKnown[] = {"as",      "core",     "cpu",        "data",   "fsize", "locks",
                                 "memlock", "msgqueue", "nice",       "nofile", "nproc", "rss",
                                 "rtprio",  "rttime",   "sigpending", "stack"};
  for (const char* k : kKnown)
    if (name == k) return name;
  return {};
}

Result<Expectations> ExpectationsFor(const harness::InstanceSpec& spec, const HostLimits& host,
                                     const std::string& userns_map_option) {
  const harness::SecurityProfile& p = spec.profile;
  Expectations e;
  e.profile_name = p.name;
  e.switches = p;
  e.isolated = false;
  for (const harness::ProfileSwitch& s : harness::ProfileSwitches()) e.isolated |= p.*s.member;
  e.hostname = spec.hostname.empty() ? spec.name : spec.hostname;
  if (p.drop_capabilities) {
    bool defaults = p.capabilities.empty();
    auto mask = CapabilityMask(defaults ? harness::DockerDefaultCapabilities() : p.capabilities);
    if (!mask.ok()) return std::move(mask).error();
    // Defaults the host lacks are left out; an explicit request the host cannot grant
    // fails instance creation, so it never reaches a probe.
    uint64_t keep = *mask & host.bounding_set;
    e.caps = {keep, keep, keep, 0, 0};
    if (defaults) e.forbidden_caps = ForbiddenByDefault();
  }
  if (p.rlimits) e.rlimits = DefaultRlimits(host);
  if (p.user_ns) {
    auto map = ParseIdMapOption(userns_map_option);
    if (!map.ok()) return std::move(map).error();
    e.uid_map = *map;
    e.gid_map = *map;
  }
  if (p.memory_limit && spec.memory_bytes > 0) e.memory_bytes = spec.memory_bytes;
  if (p.pids_limit && spec.pids_limit > 0) e.pids_limit = spec.pids_limit;
  if (p.cpu_limit && spec.cpu_quota > 0) e.cpu_quota = spec.cpu_quota;
  if (p.mask_paths) {
    e.masked_paths = harness::DefaultMaskedPaths();
    e.readonly_paths = harness::DefaultReadonlyPaths();
  }
  for (const auto& v : spec.volumes) e.volume_targets.push_back(v.guest_path);
  e.network = spec.network;
  if (spec.network == "bridge") e.interfaces = {"lo", "eth0"};
  return e;
}

namespace {

Result<uint64_t> OciCapabilitySet(const json& caps, const char* key) {
  if (!caps.contains(key)) return uint64_t{0};
  return CapabilityMask(caps[key].get<std::vector<std::string>>());
}

bool MountHasOption(const json& mount, const std::string& option) {
  for (const auto& o : mount.value("options", json::array()))
    if (o.get<std::string>() == option) return true;
  return false;
}

}  // namespace

Result<Expectations> ExpectationsFromOciSpec(const json& config, const HostLimits& host) {
  try {
    Expectations e;
    harness::SecurityProfile& s = e.switches;
    const json linux = config.value("linux", json::object());
    const json process = config.value("process", json::object());
    std::vector<std::string> ns;
    for (const auto& n : linux.value("namespaces", json::array()))
      ns.push_back(n.at("type").get<std::string>());
    auto has = [&](const char* type) { return std::find(ns.begin(), ns.end(), type) != ns.end(); };
    s.name = "oci-spec";
    s.pid_ns = has("pid");
    s.mount_ns = has("mount");
    s.uts_ns = has("uts");
    s.ipc_ns = has("ipc");
    s.net_ns = has("network");
    s.cgroup_ns = has("cgroup");
    s.user_ns = has("user");
    s.time_ns = has("time");
    s.pivot_root = s.mount_ns;  // runtimes pivot_root unless told --no-pivot
    s.read_only_root = config.value("root", json::object()).value("readonly", false);
    e.masked_paths = linux.value("maskedPaths", std::vector<std::string>{});
    e.readonly_paths = linux.value("readonlyPaths", std::vector<std::string>{});
    s.mask_paths = !e.masked_paths.empty() || !e.readonly_paths.empty();
    // A minimal /dev: a tmpfs at /dev (the runtime adds the default devices) and no bind
    // of the host's; read-only /sys: sysfs and the cgroup mount carry "ro".
    s.minimal_dev = false;
    s.read_only_sys = true;
    bool saw_sys = false;
    for (const auto& m : config.value("mounts", json::array())) {
      std::string dest = m.value("destination", "");
      std::string type = m.value("type", "");
      if (dest == "/dev") s.minimal_dev = type == "tmpfs";
      if (dest == "/sys" || dest == "/sys/fs/cgroup") {
        saw_sys = saw_sys || dest == "/sys";
        if (!MountHasOption(m, "ro")) s.read_only_sys = false;
      }
    }
    if (!saw_sys) s.read_only_sys = false;
    s.drop_capabilities = process.contains("capabilities");
    if (s.drop_capabilities) {
      const json& c = process["capabilities"];
      auto bnd = OciCapabilitySet(c, "bounding");
      auto eff = OciCapabilitySet(c, "effective");
      auto prm = OciCapabilitySet(c, "permitted");
      auto inh = OciCapabilitySet(c, "inheritable");
      auto amb = OciCapabilitySet(c, "ambient");
      for (auto* r : {&bnd, &eff, &prm, &inh, &amb})
        if (!r->ok()) return std::move(*r).error();
      uint64_t h = host.bounding_set;
      // "No capability can ever be ambient if it is not both permitted and inheritable"
      // (capabilities(7)): what a spec lists as ambient beyond that cannot be granted.
      e.caps = {*bnd & h, *eff & h, *prm & h, *inh & h, *amb & *prm & *inh & h};
    }
    s.no_new_privs = process.value("noNewPrivileges", false);
    s.seccomp = linux.contains("seccomp");
    s.capabilities = {};
    for (const auto& r : process.value("rlimits", json::array())) {
      std::string name = RlimitName(r.at("type").get<std::string>());
      if (name.empty()) return Error("unknown rlimit type " + r.at("type").dump(), EINVAL);
      e.rlimits[name] = {r.at("soft").get<uint64_t>(), r.at("hard").get<uint64_t>()};
    }
    s.rlimits = !e.rlimits.empty();
    e.hostname = config.value("hostname", "");
    for (const auto& [field, out] :
         {std::pair<const char*, std::vector<IdRange>*>{"uidMappings", &e.uid_map},
          {"gidMappings", &e.gid_map}})
      for (const auto& m : linux.value(field, json::array()))
        out->push_back({m.at("containerID").get<uint64_t>(), m.at("hostID").get<uint64_t>(),
                        m.at("size").get<uint64_t>()});
    const json resources = linux.value("resources", json::object());
    if (resources.contains("memory") && resources["memory"].contains("limit"))
      e.memory_bytes = resources["memory"]["limit"].get<uint64_t>();
    if (resources.contains("pids") && resources["pids"].contains("limit"))
      e.pids_limit = resources["pids"]["limit"].get<int64_t>();
    if (resources.contains("cpu") && resources["cpu"].contains("quota")) {
      double period = static_cast<double>(resources["cpu"].value("period", uint64_t{100000}));
      e.cpu_quota = static_cast<double>(resources["cpu"]["quota"].get<int64_t>()) / period;
    }
    s.memory_limit = e.memory_bytes.has_value();
    s.pids_limit = e.pids_limit.has_value();
    s.cpu_limit = e.cpu_quota.has_value();
    for (const auto& m : config.value("mounts", json::array()))
      if (m.value("type", "") == "bind") e.volume_targets.push_back(m.value("destination", ""));
    return e;
  } catch (const json::exception& ex) {
    return Error(std::string("OCI spec: ") + ex.what(), EINVAL);
  }
}

}  // namespace isobench::conformance
