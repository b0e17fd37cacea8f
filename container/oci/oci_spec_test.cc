#include "container/oci/oci_spec.h"

#include <gtest/gtest.h>
#include <sched.h>

#include <algorithm>

namespace isobench::container::oci {
namespace {

using json = nlohmann::json;

// Debian's runc 1.1 `runc spec`, abridged.
json RuncDefault() {
  return json::parse(R"({
    "ociVersion": "1.0.2-dev",
    "process": {"terminal": true, "user": {"uid": 0, "gid": 0}, "args": ["sh"], "cwd": "/",
      "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"],
                       "ambient": ["CAP_KILL"]},
      "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
      "noNewPrivileges": true},
    "root": {"path": "rootfs", "readonly": true},
    "hostname": "runc",
    "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
    "linux": {"resources": {"devices": [{"allow": false, "access": "rwm"}]},
              "namespaces": [{"type": "pid"}, {"type": "mount"}],
              "maskedPaths": ["/proc/kcore"], "readonlyPaths": ["/proc/sys"]}})");
}

BundleParams Bundle() {
  BundleParams b;
  b.rootfs = "/work/rootfs";
  b.args = {"/sbin/isobench-agent", "--channel-fd", "3"};
  b.cgroups_path = "/isobench-oci/isobench-r-c1";
  b.annotations = {{"org.isobench.run-id", "r"}};
  b.host_bounding = (1ull << 41) - 1;
  b.host_rlimits[RLIMIT_NOFILE] = {1024, 2048};
  b.userns_map = {{0, 100000, 65536}};
  return b;
}

harness::InstanceSpec Spec() {
  harness::InstanceSpec spec;
  spec.name = "c1";
  spec.hostname = "isobench-conf";
  spec.memory_bytes = 128 << 20;
  spec.pids_limit = 64;
  spec.cpu_quota = 0.25;
  return spec;
}

std::vector<std::string> Namespaces(const json& config) {
  std::vector<std::string> out;
  for (const auto& n : config["linux"]["namespaces"]) out.push_back(n["type"]);
  return out;
}

bool HasMount(const json& config, const std::string& destination, const std::string& type) {
  for (const auto& m : config["mounts"])
    if (m["destination"] == destination && m["type"] == type) return true;
  return false;
}

TEST(RuntimeDefaultConfig, ChangesOnlyWhatRunningTheAgentNeeds) {
  json config = RuntimeDefaultConfig(RuncDefault(), Bundle());
  json expected = RuncDefault();
  expected["process"]["args"] = Bundle().args;
  expected["process"]["terminal"] = false;
  expected["root"]["path"] = "/work/rootfs";
  expected["linux"]["cgroupsPath"] = "/isobench-oci/isobench-r-c1";
  expected["annotations"] = {{"org.isobench.run-id", "r"}};
  EXPECT_EQ(config, expected) << json::diff(expected, config).dump();
  EXPECT_TRUE(IsRuntimeDefaultProfile("runc-default", "runc"));
  EXPECT_TRUE(IsRuntimeDefaultProfile("runtime-default", "crun"));
  EXPECT_FALSE(IsRuntimeDefaultProfile("default", "runc"));
}

TEST(ConfigForSpec, DefaultProfile) {
  json c = ConfigForSpec(RuncDefault(), Spec(), Bundle()).ValueOrThrow();
  EXPECT_EQ(c["ociVersion"], "1.0.2-dev");
  EXPECT_EQ(c["process"]["terminal"], false);
  EXPECT_EQ(c["process"]["noNewPrivileges"], true);
  EXPECT_EQ(Namespaces(c),
            (std::vector<std::string>{"pid", "network", "ipc", "uts", "mount", "cgroup"}));
  EXPECT_EQ(c["hostname"], "isobench-conf");
  const json& caps = c["process"]["capabilities"];
  EXPECT_FALSE(caps.contains("ambient")) << "ambient and inheritable stay empty";
  auto bounding = caps["bounding"].get<std::vector<std::string>>();
  EXPECT_NE(std::find(bounding.begin(), bounding.end(), "CAP_NET_BIND_SERVICE"), bounding.end());
  EXPECT_EQ(std::find(bounding.begin(), bounding.end(), "CAP_SYS_ADMIN"), bounding.end());
  EXPECT_EQ(caps["effective"], caps["bounding"]);
  // nofile 1024:4096 clamped to the host's hard limit 2048.
  EXPECT_EQ(c["process"]["rlimits"][0],
            (json{{"type", "RLIMIT_NOFILE"}, {"soft", 1024}, {"hard", 2048}}));
  EXPECT_EQ(c["root"], (json{{"path", "/work/rootfs"}, {"readonly", false}}));
  EXPECT_TRUE(HasMount(c, "/dev", "tmpfs"));
  EXPECT_TRUE(HasMount(c, "/sys", "sysfs"));
  EXPECT_TRUE(HasMount(c, "/dev/mqueue", "mqueue"));
  EXPECT_FALSE(c["linux"]["maskedPaths"].empty());
  EXPECT_FALSE(c["linux"]["readonlyPaths"].empty());
  const json& r = c["linux"]["resources"];
  EXPECT_EQ(r["memory"]["limit"], 128 << 20);
  EXPECT_EQ(r["pids"]["limit"], 64);
  EXPECT_EQ(r["cpu"], (json{{"quota", 25000}, {"period", 100000}}));
  EXPECT_EQ(r["devices"], (json{{{"allow", false}, {"access", "rwm"}}}));
  EXPECT_FALSE(r.contains("blockIO")) << "no I/O weight asked for";
  EXPECT_EQ(c["linux"]["seccomp"]["defaultAction"], "SCMP_ACT_ALLOW");
  EXPECT_EQ(c["linux"]["cgroupsPath"], "/isobench-oci/isobench-r-c1");
  EXPECT_TRUE(CreateFlags(Spec().profile).empty());
}

TEST(ConfigForSpec, IoWeightIsBlockIoWeight) {
  harness::InstanceSpec spec = Spec();
  spec.io_weight = 300;
  json c = ConfigForSpec(RuncDefault(), spec, Bundle()).ValueOrThrow();
  EXPECT_EQ(c["linux"]["resources"]["blockIO"], (json{{"weight", 300}}));
  spec.io_weight = 2000;
  EXPECT_EQ(ConfigForSpec(RuncDefault(), spec, Bundle()).error().errno_value(), EINVAL);
}

TEST(ConfigForSpec, EachSwitchRemovesItsProtection) {
  auto with = [](auto&& change) {
    harness::InstanceSpec spec = Spec();
    change(spec.profile);
    return ConfigForSpec(RuncDefault(), spec, Bundle()).ValueOrThrow();
  };
  auto ns = [](const json& c, const char* type) {
    auto n = Namespaces(c);
    return std::find(n.begin(), n.end(), type) != n.end();
  };
  EXPECT_FALSE(ns(with([](auto& p) { p.pid_ns = false; }), "pid"));
  EXPECT_FALSE(ns(with([](auto& p) { p.net_ns = false; }), "network"));
  EXPECT_FALSE(ns(with([](auto& p) { p.cgroup_ns = false; }), "cgroup"));
  json no_uts = with([](auto& p) { p.uts_ns = false; });
  EXPECT_FALSE(ns(no_uts, "uts"));
  EXPECT_FALSE(no_uts.contains("hostname")) << "a hostname needs a UTS namespace";
  json no_ipc = with([](auto& p) { p.ipc_ns = false; });
  EXPECT_FALSE(HasMount(no_ipc, "/dev/mqueue", "mqueue")) << "mqueue would show the host's queues";
  json userns = with([](auto& p) { p.user_ns = true; });
  EXPECT_TRUE(ns(userns, "user"));
  EXPECT_EQ(userns["linux"]["uidMappings"][0],
            (json{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}));
  harness::SecurityProfile no_pivot;
  no_pivot.pivot_root = false;
  EXPECT_EQ(CreateFlags(no_pivot), (std::vector<std::string>{"--no-pivot"}));
  EXPECT_EQ(with([](auto& p) { p.read_only_root = true; })["root"]["readonly"], true);
  json no_masks = with([](auto& p) { p.mask_paths = false; });
  EXPECT_FALSE(no_masks["linux"].contains("maskedPaths"));
  EXPECT_FALSE(no_masks["linux"].contains("readonlyPaths"));
  json host_dev = with([](auto& p) { p.minimal_dev = false; });
  EXPECT_TRUE(HasMount(host_dev, "/dev", "bind"));
  EXPECT_EQ(host_dev["linux"]["resources"]["devices"][0]["allow"], true);
  json rw_sys = with([](auto& p) { p.read_only_sys = false; });
  for (const auto& m : rw_sys["mounts"]) {
    auto options = m.value("options", std::vector<std::string>{});
    EXPECT_EQ(std::find(options.begin(), options.end(), "ro"), options.end()) << m.dump();
  }
  json all_caps = with([](auto& p) { p.drop_capabilities = false; });
  EXPECT_EQ(all_caps["process"]["capabilities"]["bounding"].size(), 41u);
  EXPECT_EQ(with([](auto& p) { p.no_new_privs = false; })["process"]["noNewPrivileges"], false);
  EXPECT_FALSE(with([](auto& p) { p.seccomp = false; })["linux"].contains("seccomp"));
  EXPECT_FALSE(
      with([](auto& p) { p.memory_limit = false; })["linux"]["resources"].contains("memory"));
  EXPECT_FALSE(with([](auto& p) { p.pids_limit = false; })["linux"]["resources"].contains("pids"));
  EXPECT_FALSE(with([](auto& p) { p.cpu_limit = false; })["linux"]["resources"].contains("cpu"));
  EXPECT_FALSE(with([](auto& p) { p.rlimits = false; })["process"].contains("rlimits"))
      << "without rlimits the instance inherits the harness's";
}

TEST(ConfigForSpec, RejectsWhatItCannotExpress) {
  harness::InstanceSpec spec = Spec();
  spec.network = "macvlan";
  EXPECT_FALSE(ConfigForSpec(RuncDefault(), spec, Bundle()).ok());
  spec.network = "bridge";
  EXPECT_TRUE(ConfigForSpec(RuncDefault(), spec, Bundle()).ok()) << "the veth comes after create";
  spec.profile.net_ns = false;
  EXPECT_FALSE(ConfigForSpec(RuncDefault(), spec, Bundle()).ok()) << "bridge without a netns";
  spec = Spec();
  spec.profile.capabilities = {"CAP_SYS_ADMIN"};
  BundleParams b = Bundle();
  b.host_bounding = 0;
  EXPECT_EQ(ConfigForSpec(RuncDefault(), spec, b).error().errno_value(), EPERM);
  spec = Spec();
  spec.volumes = {{"/etc/../root", "/mnt", true}};
  EXPECT_FALSE(ConfigForSpec(RuncDefault(), spec, Bundle()).ok());
}

TEST(DefaultSeccomp, MatchesTheNativeFilter) {
  json s = DefaultSeccomp("SCMP_ARCH_X86_64");
  EXPECT_EQ(s["architectures"], (json{"SCMP_ARCH_X86_64"}));
  auto denied = s["syscalls"][0]["names"].get<std::vector<std::string>>();
  for (const char* name :
       {"mount", "keyctl", "kexec_load", "open_by_handle_at", "unshare", "setns", "bpf"})
    EXPECT_NE(std::find(denied.begin(), denied.end(), name), denied.end()) << name;
  int clone_rules = 0;
  bool clone3_enosys = false;
  for (const auto& rule : s["syscalls"]) {
    if (rule["names"] == json{"clone"}) ++clone_rules;
    if (rule["names"] == json{"clone3"}) clone3_enosys = rule["errnoRet"] == ENOSYS;
  }
  EXPECT_EQ(clone_rules, 7) << "one rule per CLONE_NEW* flag";
  EXPECT_TRUE(clone3_enosys);
}

}  // namespace
}  // namespace isobench::container::oci
