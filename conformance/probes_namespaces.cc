// Namespace probes (PROBES.md 1-5, 8-12): each namespace the profile asks for is the
// instance's own. Host-side halves: 1 compares namespace inodes from the host, 4 checks
// that a hostname set inside never reaches the host.
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "conformance/probes_catalogue.h"

namespace isobench::conformance::catalogue {

using json = nlohmann::json;

namespace {

std::vector<std::string> AskedNamespaces(const Expectations& e) {
  const auto& s = e.switches;
  std::vector<std::string> kinds;
  if (s.cgroup_ns) kinds.push_back("cgroup");
  if (s.ipc_ns) kinds.push_back("ipc");
  if (s.mount_ns) kinds.push_back("mnt");
  if (s.net_ns) kinds.push_back("net");
  if (s.pid_ns) kinds.push_back("pid");
  if (s.time_ns) kinds.push_back("time");
  if (s.user_ns) kinds.push_back("user");
  if (s.uts_ns) kinds.push_back("uts");
  return kinds;
}

json IdMapJson(const std::vector<IdRange>& map) {
  json out = json::array();
  for (const auto& r : map) out.push_back({r.inside, r.outside, r.count});
  return out;
}

// 1: /proc/<pid>/ns/* of the instance against the harness's own.
ProbeResult RunNamespaces(InstanceUnderTest& t, HostFacts& host, const json& params) {
  pid_t pid = t.instance->host_pid();
  auto inst = NamespaceInodes(std::to_string(pid));
  json observed = json::object();
  std::vector<std::string> shared;
  for (const auto& [kind, ino] : host.namespaces()) {
    auto it = inst.find(kind);
    observed[kind] = {{"host", ino},
                      {"instance", it == inst.end() ? json(nullptr) : json(it->second)}};
    if (it != inst.end() && it->second == ino) shared.push_back(kind);
  }
  observed["host_pid"] = pid;
  if (inst.empty())
    return MakeResult("error", "cannot read /proc/" + std::to_string(pid) + "/ns", observed);
  std::string shared_text;
  for (const auto& s : shared) shared_text += (shared_text.empty() ? "" : ",") + s;
  if (t.vm) {
    // The guest kernel has namespaces of its own; what is left to see is what the
    // hypervisor process shares with the host.
    observed["hypervisor_shares"] = shared;
    return MakeResult("pass",
                      "the guest runs its own kernel; the hypervisor process (pid " +
                          std::to_string(pid) + ") shares the host's " +
                          (shared_text.empty() ? std::string("none") : shared_text) + " namespaces",
                      observed);
  }
  std::vector<std::string> failed;
  for (const auto& kind : params.at("namespaces"))
    if (std::find(shared.begin(), shared.end(), kind.get<std::string>()) != shared.end())
      failed.push_back(kind.get<std::string>());
  if (!failed.empty()) {
    std::string list;
    for (const auto& f : failed) list += (list.empty() ? "" : ", ") + f;
    return MakeResult("fail", "shares the host's " + list + " namespace(s)", observed);
  }
  return MakeResult("pass", "own " + params.at("namespaces").dump() + " namespaces", observed);
}

// 4: the instance's hostname is the configured one; a name set inside never reaches
// the host. Without a UTS namespace of its own the name is not even set (it would be
// the host's).
ProbeResult RunHostname(InstanceUnderTest& t, HostFacts& host, const json& params) {
  std::string before_host = host.hostname();
  bool shares_uts = false;
  if (!t.vm) {
    auto inst = NamespaceInodes(std::to_string(t.instance->host_pid()));
    shares_uts = inst.count("uts") && inst["uts"] == host.namespaces().at("uts");
  }
  std::string marker = "isobench-probe-" + std::to_string(::getpid());
  json request = {{"expect", params.at("expect")}};
  if (!shares_uts) request["set"] = marker;
  ProbeResult inside = CallAgentProbe(t, "hostname", request);
  if (inside.error) return inside;
  std::string after_host = host.hostname();
  bool was_set = inside.observed.value("set", false);
  if (was_set) {
    ProbeResult restore =
        CallAgentProbe(t, "hostname", {{"restore", inside.observed.value("hostname", "")}});
    inside.observed["restore"] = restore.verdict;
  }
  inside.observed["host_before"] = before_host;
  inside.observed["host_after"] = after_host;
  inside.observed["shares_host_uts"] = shares_uts;
  if (shares_uts)
    return MakeResult("fail", "shares the host's UTS namespace (hostname `" + before_host + "`)",
                      inside.observed);
  if (after_host != before_host)
    return MakeResult("fail",
                      "sethostname inside changed the host's hostname to `" + after_host + "`",
                      inside.observed);
  std::string set_text = was_set ? "set inside, host unchanged"
                                 : "sethostname inside refused (" +
                                       inside.observed.value("set_errno", std::string("?")) + ")";
  if (inside.verdict != "pass")
    return MakeResult("fail", inside.detail + "; " + set_text, inside.observed);
  return MakeResult("pass", inside.detail + "; " + set_text, inside.observed);
}

}  // namespace

void AddNamespaceProbes(Catalogue& add) {
  add(
      1, "namespaces", "namespace inodes differ from the host's (host side)", "namespaces",
      [](const Expectations& e) -> Unpromised {
        if (AskedNamespaces(e).empty()) return "the profile asks for no namespace";
        return std::nullopt;
      },
      [](const Expectations& e, HostFacts&) {
        return json{{"namespaces", AskedNamespaces(e)}};
      },
      RunNamespaces);
  add(2, "pid1", "init is pid 1 with parent 0", "namespaces", Needs(&S::pid_ns, "a pid namespace"),
      NoParams);
  add(3, "pid_visibility", "/proc lists only the instance's pids; kill() of a host pid fails",
      "namespaces", Needs(&S::pid_ns, "a pid namespace"), SentinelParams);
  add(
      4, "hostname", "configured hostname inside; sethostname never reaches the host", "namespaces",
      Needs(&S::uts_ns, "a UTS namespace"),
      [](const Expectations& e, HostFacts&) {
        return json{{"expect", e.hostname}};
      },
      RunHostname);
  add(5, "ipc", "host SysV shm/sem/msg and POSIX mqueues are not visible", "namespaces",
      Needs(&S::ipc_ns, "an IPC namespace"), [](const Expectations&, HostFacts& h) {
        json params = {
            {"shm_key", h.shm_key()}, {"sem_key", h.sem_key()}, {"msg_key", h.msg_key()}};
        if (!h.mq_name().empty()) params["mq_name"] = h.mq_name();
        return params;
      });
  add(8, "cgroup_view", "/proc/self/cgroup is `/`; only its own cgroups under /sys/fs/cgroup",
      "namespaces",
      NeedsAny({&S::cgroup_ns, &S::mount_ns}, "a cgroup namespace, a mount namespace"),
      [](const Expectations& e, HostFacts&) {
        return json{{"cgroupns", e.switches.cgroup_ns}, {"own_view", e.switches.mount_ns}};
      });
  add(9, "id_maps", "uid/gid maps are the configured ones, not `0 0 4294967295`", "namespaces",
      Needs(&S::user_ns, "a user namespace"), [](const Expectations& e, HostFacts&) {
        return json{{"uid_map", IdMapJson(e.uid_map)}, {"gid_map", IdMapJson(e.gid_map)}};
      });
  add(10, "setgroups", "/proc/self/setgroups is `deny` (unprivileged user namespace)", "namespaces",
      Retired("no runtime here promises it; the user namespace's maps are written by a "
              "privileged runtime, so setgroups(2) stays allowed (user_namespaces(7)); only a "
              "rootless runtime promises `deny`"),
      [](const Expectations&, HostFacts&) {
        return json{{"expect", "deny"}};
      });
  add(
      11, "unmapped_owner", "a file of an unmapped host uid shows as 65534", "namespaces",
      [](const Expectations& e) -> Unpromised {
        if (!e.switches.user_ns) return "the profile does not promise a user namespace";
        for (const auto& r : e.uid_map)
          if (r.outside == 0) return "the id map maps host root, so no image file is unmapped";
        return std::nullopt;
      },
      [](const Expectations&, HostFacts&) {
        // The agent's own executable: in the image it belongs to host root, which no
        // user namespace here maps; on a bare host it is root's, uid 0 (fails).
        return json{{"path", "/proc/self/exe"}};
      });
  add(12, "setns_foreign", "setns() into a namespace that is not the instance's fails",
      "namespaces", NeedsAny({&S::drop_capabilities, &S::seccomp}, "a capability drop, seccomp"),
      NoParams);
}

}  // namespace isobench::conformance::catalogue
