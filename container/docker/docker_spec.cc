#include "container/docker/docker_spec.h"

#include <archive.h>
#include <archive_entry.h>
#include <arpa/inet.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <memory>
#include <sstream>

#include "container/capabilities.h"
#include "container/docker/docker_client.h"
#include "container/rlimits.h"
#include "harness/fd.h"
#include "harness/image.h"

namespace isobench::container::docker {

using json = nlohmann::json;

namespace {

bool HasDotDot(const std::string& path) {
  std::stringstream parts(path);
  std::string part;
  while (std::getline(parts, part, '/'))
    if (part == "..") return true;
  return false;
}

// A Binds entry is "<host>:<guest>[:ro]": a ':' or ',' inside either path would be
// read as a separator by the daemon.
Result<std::string> BindEntry(const std::string& host, const std::string& guest, bool read_only) {
  for (const auto& [what, path] :
       {std::pair<std::string, std::string>{"host path", host}, {"guest path", guest}}) {
    if (path.empty() || path[0] != '/')
      return Error("docker: volume " + what + " `" + path + "` is not absolute", EINVAL);
    if (HasDotDot(path))
      return Error("docker: volume " + what + " `" + path + "` contains `..`", EINVAL);
    if (path.find_first_of(":,") != std::string::npos)
      return Error("docker: volume " + what + " `" + path +
                       "` contains ':' or ',', which Binds cannot carry",
                   EINVAL);
  }
  return host + ":" + guest + (read_only ? ":ro" : ":rw");
}

Result<std::vector<std::string>> CapabilityNames(const std::vector<std::string>& names) {
  ISO_RETURN_IF_ERROR(ParseCapabilities(names));  // rejects unknown names, naming them
  std::vector<std::string> out;
  for (std::string n : names) {
    std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return std::toupper(c); });
    if (n.rfind("CAP_", 0) != 0) n = "CAP_" + n;
    out.push_back(n);
  }
  return out;
}

Error Unsupported(const std::string& what) {
  return Error(
      "docker: the Docker Engine cannot run " + what + "; use another backend for this profile",
      ENOTSUP);
}

}  // namespace

bool IsDockerDefaultProfile(const std::string& profile_name) {
  return profile_name == "docker-default";
}

std::string ContainerName(const std::string& run_id, const std::string& name) {
  return "isobench-" + run_id + "-" + name;
}

std::string ImageTag(const std::string& image_hash) { return "isobench/guest:" + image_hash; }

std::vector<std::string> AgentCommand() {
  return {harness::GuestImage::kAgentPath, "--channel-path", kChannelSocket};
}

Result<json> ContainerCreateBody(const harness::InstanceSpec& spec, const ContainerParams& params) {
  ISO_RETURN_IF_ERROR(harness::ValidateInstanceName(spec.name));
  const harness::SecurityProfile& p = spec.profile;
  bool docker_default = IsDockerDefaultProfile(p.name);

  json host = json::object();
  std::vector<std::string> binds;
  ISO_ASSIGN_OR_RETURN(std::string channel, BindEntry(params.channel_dir, kChannelDir, false));
  binds.push_back(channel);
  for (const auto& v : spec.volumes) {
    ISO_ASSIGN_OR_RETURN(std::string bind, BindEntry(v.host_path, v.guest_path, v.read_only));
    binds.push_back(bind);
  }
  host["Binds"] = binds;
  // The agent must be PID 1 (it reaps and answers as init), whatever the daemon's
  // default-init setting.
  host["Init"] = false;
  host["RestartPolicy"] = {{"Name", "no"}};
  host["AutoRemove"] = false;

  // Resources: applied under every profile.
  if (docker_default || p.memory_limit) {
    if (spec.memory_bytes > 0) {
      host["Memory"] = spec.memory_bytes;
      host["MemorySwap"] = spec.memory_bytes;  // equal to Memory: no swap on top
    }
  }
  if ((docker_default || p.cpu_limit) && spec.cpu_quota > 0)
    host["NanoCpus"] = static_cast<int64_t>(spec.cpu_quota * 1e9);
  if ((docker_default || p.pids_limit) && spec.pids_limit > 0) host["PidsLimit"] = spec.pids_limit;
  ISO_RETURN_IF_ERROR(harness::ValidateIoWeight(spec.io_weight));
  if (spec.io_weight > 0) host["BlkioWeight"] = spec.io_weight;

  if (spec.network == "none" || spec.network.empty())
    host["NetworkMode"] = "none";
  else if (spec.network == "bridge" && !params.network.empty())
    host["NetworkMode"] = params.network;
  else if (spec.network == "bridge")
    return Error("docker: network `bridge` needs the run's bridge network (none was made)", EINVAL);
  else
    return Error("docker: network `" + spec.network + "` is not supported (\"none\" or \"bridge\")",
                 EINVAL);

  json config = json::object();
  if (!docker_default) {
    if (!p.mount_ns) return Unsupported("without a mount namespace (mount_ns=false)");
    if (!p.pivot_root) return Unsupported("with chroot instead of pivot_root (pivot_root=false)");
    if (p.user_ns)
      return Unsupported(
          "in a per-container user namespace (user_ns=true; only a daemon-wide userns-remap "
          "exists)");
    if (p.time_ns) return Unsupported("in a time namespace (time_ns=true)");
    if (!p.minimal_dev)
      return Unsupported("with the host's /dev (minimal_dev=false) short of --privileged");
    if (!p.read_only_sys)
      return Unsupported("with a writable /sys (read_only_sys=false) short of --privileged");
    if (!p.pid_ns) host["PidMode"] = "host";
    host["IpcMode"] = p.ipc_ns ? "private" : "host";
    if (!p.uts_ns) host["UTSMode"] = "host";
    if (!p.net_ns) host["NetworkMode"] = "host";
    host["CgroupnsMode"] = p.cgroup_ns ? "private" : "host";
    host["ReadonlyRootfs"] = p.read_only_root;
    if (!p.mask_paths) {
      host["MaskedPaths"] = json::array();
      host["ReadonlyPaths"] = json::array();
    }
    std::vector<std::string> security;
    if (p.no_new_privs) security.push_back("no-new-privileges:true");
    if (!p.seccomp) security.push_back("seccomp=unconfined");
    if (!security.empty()) host["SecurityOpt"] = security;
    if (!p.drop_capabilities) {
      // Every capability the daemon's bounding set allows ("ALL" in the CLI's words).
      host["CapAdd"] = json::array({"ALL"});
    } else if (!p.capabilities.empty()) {
      ISO_ASSIGN_OR_RETURN(std::vector<std::string> caps, CapabilityNames(p.capabilities));
      host["CapDrop"] = json::array({"ALL"});
      host["CapAdd"] = caps;
    }
    if (p.rlimits) {
      ISO_ASSIGN_OR_RETURN(std::vector<RlimitSetting> limits, PlanRlimits(true));
      json ulimits = json::array();
      for (const auto& l : limits)
        ulimits.push_back({{"Name", l.name},
                           {"Soft", static_cast<int64_t>(l.value.rlim_cur)},
                           {"Hard", static_cast<int64_t>(l.value.rlim_max)}});
      host["Ulimits"] = ulimits;
    }
    if (p.uts_ns) config["Hostname"] = spec.hostname.empty() ? spec.name : spec.hostname;
  } else {
    config["Hostname"] = spec.hostname.empty() ? spec.name : spec.hostname;
  }

  config["Image"] = params.image;
  config["Cmd"] = AgentCommand();
  config["Entrypoint"] = json::array();
  config["Tty"] = false;
  config["OpenStdin"] = false;
  config["AttachStdin"] = false;
  config["AttachStdout"] = false;
  config["AttachStderr"] = false;
  config["Labels"] = {{kLabel, "1"},
                      {kLabelRun, params.run_id},
                      {kLabelInstance, spec.name},
                      {kLabelOwner, params.owner}};
  config["HostConfig"] = host;
  return config;
}

std::string GuestDockerfile(const std::string& image_hash) {
  return "FROM scratch\n"
         "COPY userland/ /\n"
         "COPY agent/ /\n"
         "LABEL isobench=\"1\" isobench.image=\"" +
         image_hash + "\"\n";
}

namespace {

struct ArchiveFree {
  void operator()(struct archive* a) const { archive_write_free(a); }
};

la_ssize_t AppendArchive(struct archive*, void* user, const void* buffer, size_t length) {
  static_cast<std::string*>(user)->append(static_cast<const char*>(buffer), length);
  return static_cast<la_ssize_t>(length);
}

Result<void> WriteTarEntry(struct archive* a, const std::string& name, mode_t mode,
                           const std::string& link, const std::string& data, time_t mtime) {
  struct archive_entry* entry = archive_entry_new();
  archive_entry_set_pathname(entry, name.c_str());
  archive_entry_set_mode(entry, mode);
  archive_entry_set_uid(entry, 0);
  archive_entry_set_gid(entry, 0);
  archive_entry_set_mtime(entry, mtime, 0);
  if (S_ISLNK(mode)) archive_entry_set_symlink(entry, link.c_str());
  archive_entry_set_size(entry, S_ISREG(mode) ? static_cast<la_int64_t>(data.size()) : 0);
  int r = archive_write_header(a, entry);
  if (r == ARCHIVE_OK && S_ISREG(mode) && !data.empty() &&
      archive_write_data(a, data.data(), data.size()) < 0)
    r = ARCHIVE_FATAL;
  archive_entry_free(entry);
  if (r != ARCHIVE_OK) return Error("tar: writing `" + name + "`: " + archive_error_string(a), EIO);
  return {};
}

// Adds root/rel recursively under `prefix`, except the agent (it has a layer of its own).
Result<void> AddTree(struct archive* a, const std::string& root, const std::string& rel,
                     const std::string& prefix) {
  // Sorted: the same tree gives the same context.
  ISO_ASSIGN_OR_RETURN(std::vector<std::string> names,
                       harness::ListDir(rel.empty() ? root : root + "/" + rel));
  std::string agent_rel = std::string(harness::GuestImage::kAgentPath).substr(1);
  for (const auto& n : names) {
    std::string child = rel.empty() ? n : rel + "/" + n;
    if (child == agent_rel) continue;
    std::string full = root + "/" + child;
    struct stat st;
    if (::lstat(full.c_str(), &st) != 0) return Error::Errno("stat", full);
    std::string link, data;
    if (S_ISLNK(st.st_mode)) {
      char buf[4096];
      ssize_t len = ::readlink(full.c_str(), buf, sizeof buf - 1);
      if (len < 0) return Error::Errno("readlink", full);
      link.assign(buf, static_cast<size_t>(len));
    } else if (S_ISREG(st.st_mode)) {
      ISO_ASSIGN_OR_RETURN(data, harness::ReadFile(full));
    } else if (!S_ISDIR(st.st_mode)) {
      continue;  // device nodes and fifos: Docker provides /dev itself
    }
    ISO_RETURN_IF_ERROR(WriteTarEntry(a, prefix + child + (S_ISDIR(st.st_mode) ? "/" : ""),
                                      st.st_mode, link, data, st.st_mtime));
    if (S_ISDIR(st.st_mode)) ISO_RETURN_IF_ERROR(AddTree(a, root, child, prefix));
  }
  return {};
}

}  // namespace

Result<std::string> BuildContextTar(const std::string& rootfs, const std::string& dockerfile) {
  std::string agent_path = rootfs + harness::GuestImage::kAgentPath;
  struct stat agent_st;
  if (::stat(agent_path.c_str(), &agent_st) != 0) return Error::Errno("stat", agent_path);
  ISO_ASSIGN_OR_RETURN(std::string agent, harness::ReadFile(agent_path));

  std::string out;
  std::unique_ptr<struct archive, ArchiveFree> a(archive_write_new());
  archive_write_set_format_pax_restricted(a.get());
  archive_write_set_bytes_in_last_block(a.get(), 1);
  if (archive_write_open(a.get(), &out, nullptr, &AppendArchive, nullptr) != ARCHIVE_OK)
    return Error(std::string("tar: open: ") + archive_error_string(a.get()), EIO);
  ISO_RETURN_IF_ERROR(WriteTarEntry(a.get(), "Dockerfile", S_IFREG | 0644, {}, dockerfile, 0));
  ISO_RETURN_IF_ERROR(WriteTarEntry(a.get(), "userland/", S_IFDIR | 0755, {}, {}, 0));
  ISO_RETURN_IF_ERROR(AddTree(a.get(), rootfs, "", "userland/"));
  for (const char* dir : {"agent/", "agent/sbin/", "agent/isobench/"})
    ISO_RETURN_IF_ERROR(WriteTarEntry(a.get(), dir, S_IFDIR | 0755, {}, {}, 0));
  ISO_RETURN_IF_ERROR(WriteTarEntry(a.get(), "agent" + std::string(harness::GuestImage::kAgentPath),
                                    S_IFREG | (agent_st.st_mode & 07777), {}, agent,
                                    agent_st.st_mtime));
  if (archive_write_close(a.get()) != ARCHIVE_OK)
    return Error(std::string("tar: close: ") + archive_error_string(a.get()), EIO);
  return out;
}

std::string BuildQuery(const std::string& tag, const std::map<std::string, std::string>& labels) {
  json l = json::object();
  for (const auto& [k, v] : labels) l[k] = v;
  // rm/forcerm: intermediate containers go even when a step fails.
  return "t=" + UrlEncode(tag) + "&labels=" + UrlEncode(l.dump()) + "&rm=1&forcerm=1";
}

BuildOutcome ParseBuildStream(const std::string& stream) {
  BuildOutcome outcome;
  bool cache_hit = false;
  std::istringstream lines(stream);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    json message = json::parse(line, nullptr, false);
    if (!message.is_object()) continue;
    if (message.contains("error")) {
      std::string error =
          message["error"].is_string() ? message["error"].get<std::string>() : message.dump();
      if (message.contains("errorDetail") && message["errorDetail"].is_object())
        error = message["errorDetail"].value("message", error);
      outcome.error = error;
    }
    if (message.contains("aux") && message["aux"].is_object() && message["aux"].contains("ID"))
      outcome.image_id = message["aux"].value("ID", "");
    if (!message.contains("stream") || !message["stream"].is_string()) continue;
    std::istringstream texts(message["stream"].get<std::string>());
    std::string text;
    while (std::getline(texts, text)) {
      if (text.find("---> Using cache") != std::string::npos) {
        cache_hit = true;
        continue;
      }
      const std::string arrow = " ---> ";
      if (text.rfind(arrow, 0) == 0) {
        std::string id = text.substr(arrow.size());
        bool hex = id.size() >= 12 && std::all_of(id.begin(), id.end(), [](unsigned char c) {
                     return std::isxdigit(c) && !std::isupper(c);
                   });
        if (!hex) continue;
        if (!cache_hit) outcome.created_ids.push_back(id);
        cache_hit = false;
        continue;
      }
      const std::string built = "Successfully built ";
      if (text.rfind(built, 0) == 0 && outcome.image_id.empty())
        outcome.image_id = text.substr(built.size());
    }
  }
  if (outcome.error.empty() && outcome.image_id.empty())
    outcome.error = "the build stream ended without an image";
  return outcome;
}

std::string DemuxLogStream(const std::string& raw) {
  std::string out;
  size_t pos = 0;
  while (pos + 8 <= raw.size()) {
    unsigned char kind = static_cast<unsigned char>(raw[pos]);
    if (kind > 2 || raw[pos + 1] != 0 || raw[pos + 2] != 0 || raw[pos + 3] != 0)
      return raw;  // not framed
    size_t size = (static_cast<size_t>(static_cast<unsigned char>(raw[pos + 4])) << 24) |
                  (static_cast<size_t>(static_cast<unsigned char>(raw[pos + 5])) << 16) |
                  (static_cast<size_t>(static_cast<unsigned char>(raw[pos + 6])) << 8) |
                  static_cast<size_t>(static_cast<unsigned char>(raw[pos + 7]));
    pos += 8;
    out.append(raw, pos, std::min(size, raw.size() - pos));
    pos += size;
  }
  return pos == 0 ? raw : out;
}

harness::ResourceUsage UsageFromStats(const json& stats) {
  harness::ResourceUsage usage;
  if (!stats.is_object()) return usage;
  auto number = [](const json& j, const char* key) -> uint64_t {
    return j.is_object() && j.contains(key) && j[key].is_number() ? j[key].get<uint64_t>() : 0;
  };
  json memory = stats.value("memory_stats", json::object());
  usage.memory_current_bytes = number(memory, "usage");
  usage.memory_peak_bytes = number(memory, "max_usage");  // cgroup v1 only
  json cpu = stats.value("cpu_stats", json::object()).value("cpu_usage", json::object());
  usage.cpu_seconds = static_cast<double>(number(cpu, "total_usage")) * 1e-9;
  usage.pids = static_cast<int64_t>(number(stats.value("pids_stats", json::object()), "current"));
  return usage;
}

NetworkParams RunNetwork(const std::string& run_id, int slot, const harness::BridgeSubnet& range) {
  NetworkParams n;
  char bridge[16];
  std::snprintf(bridge, sizeof bridge, "isbd%04x", slot & 0xffff);
  n.bridge = bridge;
  // Named after its bridge too: two backends of one run (one family's, then another's,
  // or two at once) each make their own.
  n.name = "isobench-" + run_id + "-" + n.bridge;
  const uint32_t slices = 1u << (24 - range.prefix);
  const uint32_t network = range.network + ((static_cast<uint32_t>(slot) % slices) << 8);
  auto dotted = [](uint32_t host_order) {
    struct in_addr in = {htonl(host_order)};
    char text[INET_ADDRSTRLEN];
    ::inet_ntop(AF_INET, &in, text, sizeof text);
    return std::string(text);
  };
  n.subnet = dotted(network) + "/24";
  n.gateway = dotted(network + 1);
  return n;
}

json NetworkCreateBody(const NetworkParams& n, const std::string& run_id,
                       const std::string& owner) {
  return {{"Name", n.name},
          {"Driver", "bridge"},
          {"CheckDuplicate", true},
          {"EnableIPv6", false},
          {"IPAM",
           {{"Driver", "default"}, {"Config", {{{"Subnet", n.subnet}, {"Gateway", n.gateway}}}}}},
          {"Options",
           {{"com.docker.network.bridge.name", n.bridge},
            {"com.docker.network.bridge.enable_ip_masquerade", "false"}}},
          {"Labels", {{kLabel, "1"}, {kLabelRun, run_id}, {kLabelOwner, owner}}}};
}

PullOutcome ParsePullStream(const std::string& stream) {
  PullOutcome outcome;
  std::istringstream in(stream);
  std::string line;
  while (std::getline(in, line)) {
    json message = json::parse(line, nullptr, false);
    if (!message.is_object()) continue;
    if (message.contains("error")) {
      outcome.error = message.value("error", std::string("error"));
      continue;
    }
    std::string status = message.value("status", "");
    if (status == "Pull complete")
      ++outcome.layers_fetched;
    else if (status == "Already exists")
      ++outcome.layers_present;
    else if (status.starts_with("Digest: "))
      outcome.digest = status.substr(8);
  }
  return outcome;
}

}  // namespace isobench::container::docker
