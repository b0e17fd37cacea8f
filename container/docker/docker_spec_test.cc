// Pure parts of the Docker backend: what is sent to the daemon for each InstanceSpec and
// profile switch, the build context, the replies it parses. No daemon needed.
#include "container/docker/docker_spec.h"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>

#include "container/docker/docker_client.h"
#include "harness/fd.h"

namespace isobench::container::docker {
namespace {

using json = nlohmann::json;

ContainerParams Params() {
  ContainerParams p;
  p.image = "isobench/guest:abc";
  p.run_id = "20260101T000000-42";
  p.owner = "42 1234";
  p.channel_dir = "/var/lib/isobench/docker/run/c1";
  return p;
}

harness::InstanceSpec Spec() {
  harness::InstanceSpec spec;
  spec.name = "c1";
  spec.memory_bytes = 128ull << 20;
  spec.cpu_quota = 0.5;
  spec.pids_limit = 64;
  return spec;
}

bool Contains(const json& array, const std::string& value) {
  return array.is_array() && std::find(array.begin(), array.end(), value) != array.end();
}

TEST(DockerSocketPath, DefaultEnvironmentAndExplicit) {
  ::unsetenv("DOCKER_HOST");
  EXPECT_EQ(DockerSocketPath("").ValueOrThrow(), "/var/run/docker.sock");
  EXPECT_EQ(DockerSocketPath("unix:///run/d.sock").ValueOrThrow(), "/run/d.sock");
  EXPECT_EQ(DockerSocketPath("/run/e.sock").ValueOrThrow(), "/run/e.sock");
  ::setenv("DOCKER_HOST", "unix:///tmp/env.sock", 1);
  EXPECT_EQ(DockerSocketPath("").ValueOrThrow(), "/tmp/env.sock");
  EXPECT_EQ(DockerSocketPath("unix:///x.sock").ValueOrThrow(), "/x.sock")
      << "the option wins over the environment";
  ::unsetenv("DOCKER_HOST");
  auto tcp = DockerSocketPath("tcp://10.0.0.1:2375");
  ASSERT_FALSE(tcp.ok());
  EXPECT_NE(tcp.error().message().find("tcp://10.0.0.1:2375"), std::string::npos);
}

TEST(DockerClientPure, EncodingVersionsAndMessages) {
  EXPECT_EQ(UrlEncode("isobench/guest:ab c"), "isobench%2Fguest%3Aab%20c");
  EXPECT_EQ(UrlEncode(R"({"label":["isobench=1"]})"),
            "%7B%22label%22%3A%5B%22isobench%3D1%22%5D%7D");
  EXPECT_EQ(CompareApiVersions("1.41", "1.40"), 1);
  EXPECT_EQ(CompareApiVersions("1.9", "1.40"), -1) << "numeric, not lexical";
  EXPECT_EQ(CompareApiVersions("1.43", "1.43"), 0);
  EXPECT_EQ(DaemonMessage(R"({"message":"No such container: x"})"), "No such container: x");
  EXPECT_EQ(DaemonMessage("page not found\n"), "page not found");
  EXPECT_EQ(DaemonMessage(""), "(empty reply)");
}

TEST(DockerNames, ContainerAndImage) {
  EXPECT_EQ(ContainerName("20260101T000000-42", "c1"), "isobench-20260101T000000-42-c1");
  EXPECT_EQ(ImageTag("0123abcd"), "isobench/guest:0123abcd");
  EXPECT_EQ(AgentCommand(), (std::vector<std::string>{"/sbin/isobench-agent", "--channel-path",
                                                      "/isobench/ch.sock"}));
}

TEST(ContainerCreateBody, DefaultProfileMapsEverySwitch) {
  json body = ContainerCreateBody(Spec(), Params()).ValueOrThrow();
  const json& host = body["HostConfig"];
  EXPECT_EQ(body["Image"], "isobench/guest:abc");
  EXPECT_EQ(body["Cmd"], json(AgentCommand()));
  EXPECT_EQ(body["Hostname"], "c1");
  EXPECT_EQ(body["Labels"]["isobench"], "1");
  EXPECT_EQ(body["Labels"]["isobench.run"], "20260101T000000-42");
  EXPECT_EQ(body["Labels"]["isobench.instance"], "c1");
  EXPECT_EQ(body["Labels"]["isobench.owner"], "42 1234");
  EXPECT_EQ(host["Memory"], 128ull << 20);
  EXPECT_EQ(host["MemorySwap"], 128ull << 20);
  EXPECT_EQ(host["NanoCpus"], 500000000);
  EXPECT_EQ(host["PidsLimit"], 64);
  EXPECT_EQ(host["NetworkMode"], "none");
  EXPECT_EQ(host["IpcMode"], "private");
  EXPECT_EQ(host["CgroupnsMode"], "private");
  EXPECT_EQ(host["ReadonlyRootfs"], false);
  EXPECT_EQ(host["Init"], false) << "the agent is PID 1";
  EXPECT_TRUE(Contains(host["Binds"], "/var/lib/isobench/docker/run/c1:/isobench:rw"));
  EXPECT_TRUE(Contains(host["SecurityOpt"], "no-new-privileges:true"));
  EXPECT_FALSE(Contains(host["SecurityOpt"], "seccomp=unconfined"));
  EXPECT_FALSE(host.contains("CapAdd")) << "empty capability list: Docker's default set";
  EXPECT_FALSE(host.contains("MaskedPaths")) << "Docker's default masks";
  EXPECT_FALSE(host.contains("PidMode"));
  ASSERT_TRUE(host["Ulimits"].is_array());
  bool nofile = false;
  for (const auto& u : host["Ulimits"])
    if (u["Name"] == "nofile") nofile = u["Soft"] == 1024;
  EXPECT_TRUE(nofile) << host["Ulimits"].dump();
}

TEST(ContainerCreateBody, DockerDefaultKeepsDockersPosture) {
  harness::InstanceSpec spec = Spec();
  spec.profile.name = "docker-default";
  json body = ContainerCreateBody(spec, Params()).ValueOrThrow();
  const json& host = body["HostConfig"];
  EXPECT_FALSE(host.contains("SecurityOpt")) << "no no-new-privileges: Docker's default";
  EXPECT_FALSE(host.contains("CapDrop"));
  EXPECT_FALSE(host.contains("Ulimits"));
  EXPECT_FALSE(host.contains("CgroupnsMode")) << "the daemon's default";
  EXPECT_EQ(host["Memory"], 128ull << 20) << "resources still apply";
  EXPECT_EQ(host["PidsLimit"], 64);
  EXPECT_EQ(body["Hostname"], "c1");
}

TEST(ContainerCreateBody, IoWeightIsBlkioWeightAndChecked) {
  harness::InstanceSpec spec = Spec();
  EXPECT_FALSE(
      ContainerCreateBody(spec, Params()).ValueOrThrow()["HostConfig"].contains("BlkioWeight"))
      << "unset: the daemon's default";
  spec.io_weight = 300;
  EXPECT_EQ(ContainerCreateBody(spec, Params()).ValueOrThrow()["HostConfig"]["BlkioWeight"], 300);
  spec.io_weight = 5;
  auto bad = ContainerCreateBody(spec, Params());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("I/O weight 5"), std::string::npos);
}

TEST(ContainerCreateBody, EachWeakenedSwitchHasItsDockerKnob) {
  auto body_with = [](auto tweak) {
    harness::InstanceSpec spec = Spec();
    tweak(spec.profile);
    return ContainerCreateBody(spec, Params()).ValueOrThrow()["HostConfig"];
  };
  EXPECT_TRUE(
      Contains(body_with([](auto& p) { p.seccomp = false; })["SecurityOpt"], "seccomp=unconfined"));
  EXPECT_FALSE(body_with([](auto& p) { p.no_new_privs = false; }).contains("SecurityOpt"));
  EXPECT_EQ(body_with([](auto& p) { p.drop_capabilities = false; })["CapAdd"],
            json::array({"ALL"}));
  EXPECT_EQ(body_with([](auto& p) { p.pid_ns = false; })["PidMode"], "host");
  EXPECT_EQ(body_with([](auto& p) { p.ipc_ns = false; })["IpcMode"], "host");
  EXPECT_EQ(body_with([](auto& p) { p.uts_ns = false; })["UTSMode"], "host");
  EXPECT_EQ(body_with([](auto& p) { p.net_ns = false; })["NetworkMode"], "host");
  EXPECT_EQ(body_with([](auto& p) { p.cgroup_ns = false; })["CgroupnsMode"], "host");
  EXPECT_EQ(body_with([](auto& p) { p.read_only_root = true; })["ReadonlyRootfs"], true);
  json unmasked = body_with([](auto& p) { p.mask_paths = false; });
  EXPECT_EQ(unmasked["MaskedPaths"], json::array());
  EXPECT_EQ(unmasked["ReadonlyPaths"], json::array());
  EXPECT_FALSE(body_with([](auto& p) { p.memory_limit = false; }).contains("Memory"));
  EXPECT_FALSE(body_with([](auto& p) { p.pids_limit = false; }).contains("PidsLimit"));
  EXPECT_FALSE(body_with([](auto& p) { p.cpu_limit = false; }).contains("NanoCpus"));
  EXPECT_FALSE(body_with([](auto& p) { p.rlimits = false; }).contains("Ulimits"));
  json caps = body_with([](auto& p) {
    p.capabilities = {"chown", "CAP_KILL", "net_bind_service"};
  });
  EXPECT_EQ(caps["CapDrop"], json::array({"ALL"}));
  EXPECT_EQ(caps["CapAdd"], json::array({"CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"}));
}

TEST(ContainerCreateBody, SwitchesDockerCannotExpressAreErrors) {
  auto error_with = [](auto tweak) {
    harness::InstanceSpec spec = Spec();
    tweak(spec.profile);
    auto body = ContainerCreateBody(spec, Params());
    EXPECT_FALSE(body.ok());
    return body.ok() ? std::string() : body.error().message();
  };
  EXPECT_NE(error_with([](auto& p) { p.user_ns = true; }).find("user_ns"), std::string::npos);
  EXPECT_NE(error_with([](auto& p) { p.time_ns = true; }).find("time_ns"), std::string::npos);
  EXPECT_NE(error_with([](auto& p) { p.mount_ns = false; }).find("mount_ns"), std::string::npos);
  EXPECT_NE(error_with([](auto& p) { p.pivot_root = false; }).find("pivot_root"),
            std::string::npos);
  EXPECT_NE(error_with([](auto& p) { p.minimal_dev = false; }).find("minimal_dev"),
            std::string::npos);
  EXPECT_NE(error_with([](auto& p) { p.read_only_sys = false; }).find("read_only_sys"),
            std::string::npos);
  EXPECT_NE(error_with([](auto& p) { p.capabilities = {"CAP_FLY"}; }).find("CAP_FLY"),
            std::string::npos);
}

TEST(ContainerCreateBody, VolumesNetworkAndBadInput) {
  harness::InstanceSpec spec = Spec();
  spec.volumes = {{"/srv/data", "/data", true}, {"/srv/out", "/out", false}};
  spec.network = "bridge";
  spec.hostname = "h1";
  EXPECT_NE(ContainerCreateBody(spec, Params()).error().message().find("the run's bridge network"),
            std::string::npos);
  ContainerParams params = Params();
  params.network = "isobench-r1";
  json body = ContainerCreateBody(spec, params).ValueOrThrow();
  EXPECT_TRUE(Contains(body["HostConfig"]["Binds"], "/srv/data:/data:ro"));
  EXPECT_TRUE(Contains(body["HostConfig"]["Binds"], "/srv/out:/out:rw"));
  EXPECT_EQ(body["HostConfig"]["NetworkMode"], "isobench-r1");
  EXPECT_EQ(body["Hostname"], "h1");

  auto fails = [](harness::InstanceSpec s, const std::string& needle) {
    auto r = ContainerCreateBody(s, Params());
    ASSERT_FALSE(r.ok()) << needle;
    EXPECT_NE(r.error().message().find(needle), std::string::npos) << r.error().message();
  };
  spec = Spec();
  spec.volumes = {{"srv/data", "/data", false}};
  fails(spec, "not absolute");
  spec.volumes = {{"/srv/../etc", "/data", false}};
  fails(spec, "..");
  spec.volumes = {{"/srv/a:b", "/data", false}};
  fails(spec, "':'");
  spec.volumes = {{"/srv", "data", false}};
  fails(spec, "not absolute");
  spec = Spec();
  spec.network = "macvlan";
  fails(spec, "macvlan");
  spec = Spec();
  spec.name = "../evil";
  EXPECT_FALSE(ContainerCreateBody(spec, Params()).ok());
}

TEST(BuildContext, DockerfileQueryAndLayers) {
  std::string dockerfile = GuestDockerfile("abc123");
  EXPECT_EQ(dockerfile.rfind("FROM scratch\n", 0), 0u);
  EXPECT_LT(dockerfile.find("COPY userland/ /"), dockerfile.find("COPY agent/ /"))
      << "userland below the agent";
  EXPECT_NE(dockerfile.find("isobench.image=\"abc123\""), std::string::npos);
  std::string query = BuildQuery("isobench/guest:abc", {{"isobench", "1"}});
  EXPECT_NE(query.find("t=isobench%2Fguest%3Aabc"), std::string::npos);
  EXPECT_NE(query.find("forcerm=1"), std::string::npos);
  EXPECT_NE(query.find("labels=%7B%22isobench%22%3A%221%22%7D"), std::string::npos);
}

TEST(BuildContext, TarSplitsUserlandFromAgent) {
  char tmpl[] = "/tmp/isobench-docker-ctx-XXXXXX";
  std::string root = ::mkdtemp(tmpl);
  harness::MakeDirs(root + "/bin").ValueOrThrow();
  harness::MakeDirs(root + "/sbin").ValueOrThrow();
  harness::WriteWholeFile(root + "/bin/busybox", "BUSYBOX", 0755).ValueOrThrow();
  ASSERT_EQ(::symlink("busybox", (root + "/bin/sh").c_str()), 0);
  harness::WriteWholeFile(root + "/sbin/isobench-agent", "AGENT", 0755).ValueOrThrow();
  ::chmod((root + "/sbin/isobench-agent").c_str(), 0755);
  std::string tar = BuildContextTar(root, "FROM scratch\n").ValueOrThrow();
  (void)harness::RemoveTree(root);

  std::map<std::string, std::string> entries;  // path -> data or "->target"
  std::map<std::string, int> modes, uids;
  struct archive* a = archive_read_new();
  archive_read_support_format_all(a);
  ASSERT_EQ(archive_read_open_memory(a, tar.data(), tar.size()), ARCHIVE_OK);
  struct archive_entry* e;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    std::string path = archive_entry_pathname(e);
    std::string data;
    if (archive_entry_filetype(e) == AE_IFLNK) {
      data = std::string("->") + archive_entry_symlink(e);
    } else {
      char buf[64];
      la_ssize_t n;
      while ((n = archive_read_data(a, buf, sizeof buf)) > 0)
        data.append(buf, static_cast<size_t>(n));
    }
    entries[path] = data;
    modes[path] = archive_entry_perm(e);
    uids[path] = static_cast<int>(archive_entry_uid(e));
  }
  archive_read_free(a);
  EXPECT_EQ(entries["Dockerfile"], "FROM scratch\n");
  EXPECT_EQ(entries["userland/bin/busybox"], "BUSYBOX");
  EXPECT_EQ(entries["userland/bin/sh"], "->busybox");
  EXPECT_TRUE(entries.count("userland/sbin/"));
  EXPECT_FALSE(entries.count("userland/sbin/isobench-agent")) << "the agent has a layer of its own";
  EXPECT_EQ(entries["agent/sbin/isobench-agent"], "AGENT");
  EXPECT_EQ(modes["agent/sbin/isobench-agent"], 0755);
  EXPECT_TRUE(entries.count("agent/isobench/"))
      << "the channel mount point exists even on a read-only root";
  for (const auto& [path, uid] : uids) EXPECT_EQ(uid, 0) << path;
}

TEST(BuildContext, MissingRootfsIsAnError) {
  auto tar = BuildContextTar("/nonexistent/rootfs", "FROM scratch\n");
  ASSERT_FALSE(tar.ok());
  EXPECT_NE(tar.error().message().find("/nonexistent/rootfs"), std::string::npos);
}

TEST(ParseBuildStream, SuccessFailureAndCacheHits) {
  std::string ok = R"({"stream":"Step 1/4 : FROM scratch\n"})"
                   "\n"
                   R"({"stream":" ---\u003e \n"})"
                   "\n"
                   R"({"stream":"Step 2/4 : COPY userland/ /\n"})"
                   "\n"
                   R"({"stream":" ---\u003e Using cache\n"})"
                   "\n"
                   R"({"stream":" ---\u003e 1111aaaa2222\n"})"
                   "\n"
                   R"({"stream":"Step 3/4 : COPY agent/ /\n"})"
                   "\n"
                   R"({"stream":" ---\u003e 3333bbbb4444\n"})"
                   "\n"
                   R"({"aux":{"ID":"sha256:3333bbbb4444ffff"}})"
                   "\n"
                   R"({"stream":"Successfully built 3333bbbb4444\n"})"
                   "\n";
  BuildOutcome good = ParseBuildStream(ok);
  EXPECT_TRUE(good.error.empty()) << good.error;
  EXPECT_EQ(good.image_id, "sha256:3333bbbb4444ffff");
  EXPECT_EQ(good.created_ids, std::vector<std::string>{"3333bbbb4444"})
      << "a cache hit is not ours to remove";

  std::string bad =
      R"({"stream":"Step 2/3 : COPY userland/ /\n"})"
      "\n"
      R"({"stream":" ---\u003e 5555cccc6666\n"})"
      "\n"
      R"({"errorDetail":{"message":"COPY failed: file not found in build context"},"error":"COPY failed"})"
      "\n";
  BuildOutcome failed = ParseBuildStream(bad);
  EXPECT_EQ(failed.error, "COPY failed: file not found in build context");
  EXPECT_EQ(failed.created_ids, std::vector<std::string>{"5555cccc6666"});
  EXPECT_FALSE(ParseBuildStream("").error.empty()) << "no image is a failure";
}

TEST(DemuxLogStream, StripsFrameHeaders) {
  std::string framed;
  auto frame = [&](char kind, const std::string& text) {
    framed += std::string{kind, 0, 0, 0, 0, 0, 0, static_cast<char>(text.size())};
    framed += text;
  };
  frame(1, "hello ");
  frame(2, "world\n");
  EXPECT_EQ(DemuxLogStream(framed), "hello world\n");
  EXPECT_EQ(DemuxLogStream("plain text from a tty"), "plain text from a tty");
}

TEST(UsageFromStats, CgroupV1AndV2Replies) {
  json v1 = json::parse(R"({"memory_stats":{"usage":1048576,"max_usage":2097152},
      "cpu_stats":{"cpu_usage":{"total_usage":1500000000}},"pids_stats":{"current":3}})");
  auto u = UsageFromStats(v1);
  EXPECT_EQ(u.memory_current_bytes, 1048576u);
  EXPECT_EQ(u.memory_peak_bytes, 2097152u);
  EXPECT_DOUBLE_EQ(u.cpu_seconds, 1.5);
  EXPECT_EQ(u.pids, 3);
  auto v2 = UsageFromStats(
      json::parse(R"({"memory_stats":{"usage":4096},"cpu_stats":{},"pids_stats":{}})"));
  EXPECT_EQ(v2.memory_current_bytes, 4096u);
  EXPECT_EQ(v2.memory_peak_bytes, 0u);
  EXPECT_EQ(v2.pids, 0);
}

}  // namespace
TEST(NetworkCreateBody, ARunsOwnBridgeWithoutNat) {
  NetworkParams n = RunNetwork("r1", 0x1a2b);
  EXPECT_EQ(n.name, "isobench-r1-isbd1a2b");
  EXPECT_EQ(n.bridge, "isbd1a2b");
  EXPECT_EQ(n.subnet, "10.204.43.0/24");  // 0x1a2b % 256
  EXPECT_EQ(n.gateway, "10.204.43.1");
  // Another range: a /20 holds 16 of them.
  NetworkParams other = RunNetwork("r1", 0x1a2b, *harness::ParseBridgeSubnet("172.30.0.0/20"));
  EXPECT_EQ(other.subnet, "172.30.11.0/24");  // 0x1a2b % 16
  EXPECT_EQ(other.gateway, "172.30.11.1");
  json body = NetworkCreateBody(n, "r1", "42 7");
  EXPECT_EQ(body["Driver"], "bridge");
  EXPECT_EQ(body["Options"]["com.docker.network.bridge.enable_ip_masquerade"], "false");
  EXPECT_EQ(body["Options"]["com.docker.network.bridge.name"], "isbd1a2b");
  EXPECT_EQ(body["IPAM"]["Config"][0]["Subnet"], "10.204.43.0/24");
  EXPECT_EQ(body["Labels"][kLabelRun], "r1");
  EXPECT_EQ(body["Labels"][kLabelOwner], "42 7");
  EXPECT_EQ(body["EnableIPv6"], false);
}

}  // namespace isobench::container::docker

namespace isobench::container::docker {
namespace {

TEST(ParsePullStreamTest, CountsLayersAndKeepsTheDigestAndTheError) {
  PullOutcome ok = ParsePullStream(
      "{\"status\":\"Pulling from isobench/guest\",\"id\":\"ab\"}\n"
      "{\"status\":\"Already exists\",\"id\":\"l1\"}\n"
      "{\"status\":\"Downloading\",\"progressDetail\":{\"current\":1,\"total\":2},\"id\":\"l2\"}\n"
      "{\"status\":\"Pull complete\",\"id\":\"l2\"}\n"
      "{\"status\":\"Pull complete\",\"id\":\"l3\"}\n"
      "{\"status\":\"Digest: sha256:0123\"}\n"
      "{\"status\":\"Status: Downloaded newer image for 127.0.0.1:5147/isobench/guest:ab\"}\n");
  EXPECT_EQ(ok.error, "");
  EXPECT_EQ(ok.layers_present, 1);
  EXPECT_EQ(ok.layers_fetched, 2);
  EXPECT_EQ(ok.digest, "sha256:0123");
  PullOutcome bad = ParsePullStream(
      "{\"status\":\"Pulling fs layer\",\"id\":\"l2\"}\n"
      "{\"errorDetail\":{\"message\":\"filesystem layer verification failed\"},"
      "\"error\":\"filesystem layer verification failed for digest sha256:99\"}\n");
  EXPECT_EQ(bad.error, "filesystem layer verification failed for digest sha256:99");
}

}  // namespace
}  // namespace isobench::container::docker
