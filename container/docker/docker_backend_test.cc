// The Docker backend against a real dockerd (ci/setup.sh starts one): instances come up,
// answer through the agent, and leave no container behind; Docker's own posture is what
// it is (NoNewPrivs 0); daemon errors and build failures are reported in the daemon's
// words with nothing left; a dead run's containers are reclaimed and nobody else's.
// Skipped with the reason where root or the daemon is missing.
#include "container/docker/docker_backend.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <thread>

#include "container/cgroup.h"
#include "container/docker/docker_client.h"
#include "container/docker/docker_image.h"
#include "container/docker/docker_spec.h"
#include "harness/fd.h"
#include "harness/image.h"
#include "harness/registry.h"

namespace isobench::container::docker {
namespace {

using harness::BackendContext;
using json = nlohmann::json;

class DockerBackendTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0) {
      skip_ = "needs root (talks to the Docker daemon, bind-mounts a socket)";
      return;
    }
    auto socket = DockerSocketPath("");
    if (!socket.ok()) {
      skip_ = socket.error().message();
      return;
    }
    auto client = DockerClient::Connect(*socket);
    if (!client.ok()) {
      skip_ = client.error().message();
      return;
    }
    char tmpl[] = "/tmp/isobench-docker-test-XXXXXX";
    workdir_ = ::mkdtemp(tmpl);
    harness::ImageOptions options;
    options.workdir = workdir_;
    options.agent_binary = harness::DefaultAgentPath();
    options.want_vm = false;
    auto image = harness::BuildImage(options);
    if (!image.ok()) {
      skip_ = "cannot build the guest image: " + image.error().message();
      return;
    }
    image_ = *image;
  }
  static void TearDownTestSuite() {
    if (!workdir_.empty()) (void)harness::RemoveTree(workdir_);
  }
  void SetUp() override {
    if (!skip_.empty()) GTEST_SKIP() << skip_;
    client_ = DockerClient::Connect(DockerSocketPath("").ValueOrThrow()).ValueOrThrow();
  }
  BackendContext Context(const std::string& run_id) {
    BackendContext c;
    c.workdir = workdir_;
    c.image = image_;
    c.run_id = run_id;
    return c;
  }
  // Containers carrying `label` (e.g. "isobench.run=<id>"), stopped ones included.
  json Containers(const std::string& label) {
    json filters = {{"label", json::array({label})}};
    return client_.Call("GET", "/containers/json?all=1&filters=" + UrlEncode(filters.dump()))
        .ValueOrThrow();
  }

  static std::string skip_, workdir_;
  static harness::GuestImage image_;
  DockerClient client_;
};
std::string DockerBackendTest::skip_, DockerBackendTest::workdir_;
harness::GuestImage DockerBackendTest::image_;

TEST_F(DockerBackendTest, InstanceLivesAnswersAndLeavesNothing) {
  std::string run = harness::NewRunId();
  auto backend = MakeDockerBackend(Context(run)).ValueOrThrow();
  auto availability = backend->Probe();
  ASSERT_TRUE(availability.usable) << availability.reason;
  auto facts = backend->Describe();
  EXPECT_EQ(facts["docker.image"], ImageTag(image_.hash));
  EXPECT_FALSE(facts["docker.api_version"].empty());
  // Docker's own posture, as the OCI spec it hands runc.
  ASSERT_FALSE(facts["docker.default_spec"].empty());
  json default_spec = json::parse(harness::ReadFile(facts["docker.default_spec"]).ValueOrThrow());
  EXPECT_FALSE(default_spec["process"].value("noNewPrivileges", false));
  EXPECT_TRUE(default_spec["linux"].contains("seccomp"));
  EXPECT_FALSE(default_spec.contains("hostname"));
  // The image is layered: the userland and the agent are separate layers.
  json image = client_.Call("GET", "/images/" + ImageTag(image_.hash) + "/json").ValueOrThrow();
  EXPECT_GE(image["RootFS"]["Layers"].size(), 2u) << image["RootFS"].dump();
  EXPECT_EQ(image["Config"]["Labels"]["isobench"], "1");

  harness::InstanceSpec spec;
  spec.name = "t1";
  spec.memory_bytes = 64ull << 20;
  spec.cpu_quota = 0.5;
  spec.pids_limit = 32;
  // The I/O weight where this host's cgroups can take one. A daemon that discards it (Docker
  // 20.10 looks for CFQ's blkio.weight only, which BFQ hosts lack) fails the create, with
  // its words and nothing left; then the rest of the test runs without it.
  const auto mounts = DetectCgroupMounts().ValueOrThrow();
  std::string no_io_weight = IoWeightUnavailable(mounts);
  if (no_io_weight.empty()) {
    spec.io_weight = 300;
    auto weighted = backend->Create(spec);
    if (!weighted.ok()) {
      EXPECT_EQ(weighted.error().errno_value(), ENOTSUP) << weighted.error().message();
      EXPECT_NE(weighted.error().message().find("discarded"), std::string::npos)
          << weighted.error().message();
      EXPECT_TRUE(Containers("isobench.run=" + run).empty()) << "the refused container is left";
      no_io_weight = weighted.error().message();
      spec.io_weight = 0;
    }
  }
  auto instance = backend->Create(spec).ValueOrThrow();
  EXPECT_GT(instance->startup().ready_seconds, 0);
  EXPECT_EQ(instance->startup().phases.back().name, "ready");
  EXPECT_GT(instance->host_pid(), 0);
  if (no_io_weight.empty()) {
    auto seen = ExpectIoWeight(instance->host_pid(), mounts, 300);
    EXPECT_TRUE(seen.ok()) << seen.error().message();
  } else {
    std::cout << "[ NOTE     ] I/O weight not checked: " << no_io_weight << "\n";
  }
  EXPECT_EQ(Containers("isobench.run=" + run).size(), 1u);

  auto echo = instance->Exec({"/bin/echo", "hello"}).ValueOrThrow();
  EXPECT_EQ(echo.exit_code, 0);
  EXPECT_EQ(echo.stdout_text, "hello\n");
  auto info = instance->Call({{"op", "info"}}, std::chrono::seconds(10)).ValueOrThrow();
  EXPECT_EQ(info["pid"], 1) << "the agent is the container's init";
  EXPECT_EQ(info["hostname"], "t1");
  EXPECT_EQ(info["status"]["NoNewPrivs"], "1") << "the default profile asks for no-new-privileges";
  EXPECT_EQ(info["status"]["Seccomp"], "2");
  auto limit =
      instance->Exec({"/bin/cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}).ValueOrThrow();
  if (limit.exit_code == 0) {
    EXPECT_EQ(limit.stdout_text, std::to_string(64ull << 20) + "\n");
  }
  auto usage = instance->Usage().ValueOrThrow();
  EXPECT_GT(usage.memory_current_bytes, 0u);
  EXPECT_GE(usage.pids, 1);
  EXPECT_GT(usage.pss_bytes, 0u);
  EXPECT_GT(usage.cpu_seconds, 0.0);
  // Read from the container's cgroup files: the same figures as the daemon's stats.
  auto listed = Containers("isobench.run=" + run);
  ASSERT_EQ(listed.size(), 1u);
  json stats = client_
                   .Call("GET", "/containers/" + listed[0]["Id"].get<std::string>() +
                                    "/stats?stream=false&one-shot=true")
                   .ValueOrThrow();
  EXPECT_EQ(usage.pids, stats["pids_stats"]["current"].get<int64_t>());
  double daemon_memory = stats["memory_stats"]["usage"].get<double>();
  // Read moments apart, and page counters move in batches: the same order, not the same bytes.
  EXPECT_GT(static_cast<double>(usage.memory_current_bytes), daemon_memory * 0.5);
  EXPECT_LT(static_cast<double>(usage.memory_current_bytes), daemon_memory * 2.0);

  ASSERT_TRUE(instance->Destroy().ok());
  EXPECT_TRUE(instance->Destroy().ok()) << "Destroy is idempotent";
  EXPECT_TRUE(Containers("isobench.run=" + run).empty());
  EXPECT_FALSE(instance->Exec({"/bin/true"}).ok());
}

// Network "bridge": the run's own user-defined network, made on first use and removed
// with the backend; no forwarding off its bridge.
// The daemon pulls the registry's images through its API and starts from them.
TEST_F(DockerBackendTest, StartsFromTheRegistryImagePulledThroughTheApi) {
  if (auto usable = harness::CheckRegistry(harness::RegistryAddress()); !usable.ok())
    GTEST_SKIP() << usable.error().message();
  auto published = harness::PublishGuestImages(harness::RegistryAddress(), image_, 0);
  ASSERT_TRUE(published.ok()) << published.error().message();
  std::string run = harness::NewRunId();
  auto backend = MakeDockerBackend(Context(run)).ValueOrThrow();
  ASSERT_TRUE(backend->Probe().usable);
  ASSERT_TRUE(backend->traits().registry_images);
  ASSERT_TRUE(backend->EvictImages().ok());
  auto cold = backend->Pull(published->alt);
  ASSERT_TRUE(cold.ok()) << cold.error().message();
  EXPECT_EQ(cold->layers, 2);
  EXPECT_EQ(cold->layers_fetched, 2);
  EXPECT_EQ(cold->digest, published->images[1].manifest_digest);
  auto warm = backend->Pull(published->alt);
  ASSERT_TRUE(warm.ok()) << warm.error().message();
  EXPECT_EQ(warm->layers_fetched, 0);

  harness::InstanceSpec spec;
  spec.name = "reg-guest";
  spec.memory_bytes = 64ull << 20;
  spec.image = published->guest;  // pulled at its start: the base layer is there
  auto guest = backend->Create(spec);
  ASSERT_TRUE(guest.ok()) << guest.error().message();
  EXPECT_EQ((*guest)->startup().phases.front().name, "pull");
  auto variant = (*guest)->Exec({"/bin/cat", "/etc/isobench/variant"});
  ASSERT_TRUE(variant.ok()) << variant.error().message();
  EXPECT_NE(variant->exit_code, 0);
  spec.name = "reg-alt";
  spec.image = published->alt;
  auto alt = backend->Create(spec);
  ASSERT_TRUE(alt.ok()) << alt.error().message();
  variant = (*alt)->Exec({"/bin/cat", "/etc/isobench/variant"});
  ASSERT_TRUE(variant.ok()) << variant.error().message();
  EXPECT_EQ(variant->stdout_text, "alt\n");
  auto dirs = backend->ImageLayerDirs(published->guest);
  ASSERT_TRUE(dirs.ok()) << dirs.error().message();
  EXPECT_EQ(dirs->size(), 3u);
  auto alt_dirs = backend->ImageLayerDirs(published->alt);
  ASSERT_TRUE(alt_dirs.ok()) << alt_dirs.error().message();
  ASSERT_EQ(alt_dirs->size(), 2u);
  EXPECT_EQ(dirs->back(), alt_dirs->back()) << "Docker shares the base layer too";
  // An image a container uses stays.
  auto evicted = backend->EvictImages();
  ASSERT_TRUE(evicted.ok()) << evicted.error().message();
  EXPECT_EQ(*evicted, 0);
  ASSERT_TRUE((*guest)->Destroy().ok());
  ASSERT_TRUE((*alt)->Destroy().ok());
  evicted = backend->EvictImages();
  ASSERT_TRUE(evicted.ok()) << evicted.error().message();
  EXPECT_EQ(*evicted, 2);
  EXPECT_TRUE(Containers("isobench.run=" + run).empty());
}

TEST_F(DockerBackendTest, BridgeNetworkIsTheRunsOwnAndGoesWithIt) {
  std::string run = harness::NewRunId();
  auto backend = MakeDockerBackend(Context(run)).ValueOrThrow();
  ASSERT_TRUE(backend->Probe().usable) << backend->Probe().reason;
  harness::InstanceSpec spec;
  spec.name = "net1";
  spec.network = "bridge";
  auto instance = backend->Create(spec).ValueOrThrow();
  auto endpoint = instance->endpoint();
  ASSERT_TRUE(endpoint.has_value());
  EXPECT_EQ(endpoint->address.rfind("10.204.", 0), 0u) << endpoint->address;
  EXPECT_EQ(endpoint->host_address.rfind("10.204.", 0), 0u) << endpoint->host_address;
  EXPECT_EQ(endpoint->link.rfind("isbd", 0), 0u) << endpoint->link;
  EXPECT_EQ(
      harness::ReadFile("/proc/sys/net/ipv4/conf/" + endpoint->link + "/forwarding").ValueOrThrow(),
      "0\n");
  const std::string network = "isobench-" + run + "-" + endpoint->link;
  json net = client_.Call("GET", "/networks/" + network).ValueOrThrow();
  EXPECT_EQ(net["Labels"]["isobench.run"], run);
  EXPECT_EQ(net["Options"]["com.docker.network.bridge.enable_ip_masquerade"], "false");
  auto ping = instance->Exec({"ping", "-c", "1", "-W", "3", endpoint->host_address}).ValueOrThrow();
  EXPECT_EQ(ping.exit_code, 0) << ping.stdout_text << ping.stderr_text;
  std::string link = endpoint->link;

  // A second backend of the same run (the next benchmark family's, while the first still
  // lives) makes a network of its own rather than colliding with the first's name.
  {
    auto second = MakeDockerBackend(Context(run)).ValueOrThrow();
    ASSERT_TRUE(second->Probe().usable) << second->Probe().reason;
    spec.name = "net2";
    auto other = second->Create(spec);
    ASSERT_TRUE(other.ok()) << other.error().message();
    ASSERT_TRUE((*other)->endpoint().has_value());
    EXPECT_NE((*other)->endpoint()->link, link);
    auto pong = (*other)->Exec({"ping", "-c", "1", "-W", "3", (*other)->endpoint()->host_address});
    ASSERT_TRUE(pong.ok()) << pong.error().message();
    EXPECT_EQ(pong->exit_code, 0) << pong->stdout_text << pong->stderr_text;
  }
  EXPECT_EQ(client_.Request("GET", "/networks/" + network).ValueOrThrow().status, 200)
      << "the second backend took the first's network with it";

  instance.reset();
  backend.reset();
  auto gone = client_.Request("GET", "/networks/" + network).ValueOrThrow();
  EXPECT_EQ(gone.status, 404) << "the run's network outlived its backend";
  EXPECT_NE(::access(("/sys/class/net/" + link).c_str(), F_OK), 0) << link << " survived";
}

TEST_F(DockerBackendTest, DockerDefaultPostureHasNoNoNewPrivs) {
  std::string run = harness::NewRunId();
  auto backend = MakeDockerBackend(Context(run)).ValueOrThrow();
  ASSERT_TRUE(backend->Probe().usable) << backend->Probe().reason;
  harness::InstanceSpec spec;
  spec.name = "t2";
  spec.profile.name = "docker-default";
  {
    auto instance = backend->Create(spec).ValueOrThrow();
    auto info = instance->Call({{"op", "info"}}, std::chrono::seconds(10)).ValueOrThrow();
    // Docker does not set no_new_privs unless asked (--security-opt no-new-privileges):
    // the conformance suite reports this as Docker's default.
    EXPECT_EQ(info["status"]["NoNewPrivs"], "0");
    EXPECT_EQ(info["status"]["Seccomp"], "2") << "Docker's default seccomp profile";
    EXPECT_EQ(info["status"]["CapBnd"], "00000000a80425fb") << "Docker's default capability set";
  }  // destroyed by the destructor
  EXPECT_TRUE(Containers("isobench.run=" + run).empty());
}

TEST_F(DockerBackendTest, ReadOnlyRootAndVolumes) {
  std::string run = harness::NewRunId();
  auto backend = MakeDockerBackend(Context(run)).ValueOrThrow();
  ASSERT_TRUE(backend->Probe().usable);
  std::string shared = workdir_ + "/shared";
  harness::MakeDirs(shared).ValueOrThrow();
  harness::InstanceSpec spec;
  spec.name = "t3";
  spec.profile.read_only_root = true;
  spec.volumes = {{shared, "/data", false}};
  auto instance = backend->Create(spec).ValueOrThrow();
  EXPECT_NE(instance->Exec({"/bin/touch", "/root-file"}).ValueOrThrow().exit_code, 0)
      << "the root is read-only";
  EXPECT_EQ(instance->Exec({"/bin/sh", "-c", "echo hi > /data/out"}).ValueOrThrow().exit_code, 0);
  EXPECT_EQ(harness::ReadFile(shared + "/out").ValueOrThrow(), "hi\n");
  // The run's directory (owner file, per-instance state) goes with the run.
  std::string run_dir = workdir_ + "/docker/" + run;
  EXPECT_EQ(::access(run_dir.c_str(), F_OK), 0);
  instance.reset();
  backend.reset();
  EXPECT_NE(::access(run_dir.c_str(), F_OK), 0) << run_dir << " outlived the run";
}

TEST_F(DockerBackendTest, DaemonErrorIsReportedInItsWordsAndNothingIsLeft) {
  std::string run = harness::NewRunId();
  auto backend = MakeDockerBackend(Context(run)).ValueOrThrow();
  ASSERT_TRUE(backend->Probe().usable);
  harness::InstanceSpec spec;
  spec.name = "tiny";
  spec.memory_bytes = 1ull << 20;  // the daemon's minimum is 6 MB
  auto instance = backend->Create(spec);
  ASSERT_FALSE(instance.ok());
  EXPECT_NE(instance.error().message().find("Minimum memory limit"), std::string::npos)
      << instance.error().message();
  std::cout << "daemon error: " << instance.error().message() << "\n";
  EXPECT_TRUE(Containers("isobench.run=" + run).empty());

  spec.memory_bytes = 64ull << 20;
  spec.profile.user_ns = true;
  auto unsupported = backend->Create(spec);
  ASSERT_FALSE(unsupported.ok());
  EXPECT_NE(unsupported.error().message().find("user_ns"), std::string::npos);
  spec.profile.user_ns = false;
  spec.name = "../x";
  EXPECT_FALSE(backend->Create(spec).ok());
  EXPECT_TRUE(Containers("isobench.run=" + run).empty());
}

TEST_F(DockerBackendTest, StartFailureIsTheDaemonsErrorWithNothingLeft) {
  std::string run = harness::NewRunId();
  auto backend = MakeDockerBackend(Context(run)).ValueOrThrow();
  ASSERT_TRUE(backend->Probe().usable);
  // An empty directory over /sbin hides the agent: the container is created, and its
  // start fails in the runtime.
  std::string empty = workdir_ + "/empty";
  harness::MakeDirs(empty).ValueOrThrow();
  harness::InstanceSpec spec;
  spec.name = "noagent";
  spec.volumes = {{empty, "/sbin", true}};
  auto instance = backend->Create(spec);
  ASSERT_FALSE(instance.ok());
  std::cout << "start error: " << instance.error().message() << "\n";
  EXPECT_NE(instance.error().message().find("/start"), std::string::npos)
      << instance.error().message();
  EXPECT_NE(instance.error().message().find("isobench-agent"), std::string::npos)
      << instance.error().message();
  EXPECT_TRUE(Containers("isobench.run=" + run).empty());
}

TEST_F(DockerBackendTest, AgentThatExitsBeforeReadyIsAnErrorWithNothingLeft) {
  std::string run = harness::NewRunId();
  auto backend = MakeDockerBackend(Context(run)).ValueOrThrow();
  ASSERT_TRUE(backend->Probe().usable);
  // A plain file bound over the channel socket: the agent cannot connect and exits.
  std::string not_a_socket = workdir_ + "/not-a-socket";
  harness::WriteWholeFile(not_a_socket, "").ValueOrThrow();
  harness::InstanceSpec spec;
  spec.name = "nochan";
  spec.volumes = {{not_a_socket, kChannelSocket, true}};
  auto instance = backend->Create(spec);
  ASSERT_FALSE(instance.ok());
  EXPECT_NE(instance.error().message().find("isobench-" + run + "-nochan"), std::string::npos)
      << instance.error().message();
  std::cout << "agent error: " << instance.error().message() << "\n";
  EXPECT_NE(instance.error().message().find("exited"), std::string::npos)
      << instance.error().message();
  EXPECT_TRUE(Containers("isobench.run=" + run).empty());
}

TEST_F(DockerBackendTest, ReclaimsADeadRunsContainersAndNobodyElses) {
  std::string dead_run = "20000101T000000-999999";
  ContainerParams params;
  params.image = ImageTag(image_.hash);
  params.run_id = dead_run;
  params.owner = "999999 1";  // a process that does not exist
  params.channel_dir = workdir_;
  harness::InstanceSpec spec;
  spec.name = "orphan";
  json body = ContainerCreateBody(spec, params).ValueOrThrow();
  // The image must exist: a backend's Probe() builds it.
  auto live = MakeDockerBackend(Context(harness::NewRunId())).ValueOrThrow();
  ASSERT_TRUE(live->Probe().usable);
  std::string orphan =
      client_.Call("POST", "/containers/create?name=" + ContainerName(dead_run, "orphan"), body)
          .ValueOrThrow()["Id"];
  // Someone else's container from the same image: it inherits the image's isobench=1
  // label but is not one of ours.
  json foreign_body = {{"Image", ImageTag(image_.hash)},
                       {"Cmd", json::array({"/bin/true"})},
                       {"Labels", {{"owner", "someone-else"}}}};
  std::string foreign =
      client_
          .Call("POST", "/containers/create?name=not-isobench-" + std::to_string(::getpid()),
                foreign_body)
          .ValueOrThrow()["Id"];
  harness::MakeDirs(workdir_ + "/docker/" + dead_run).ValueOrThrow();
  harness::WriteWholeFile(workdir_ + "/docker/" + dead_run + "/owner", "999999 1\n").ValueOrThrow();
  // The dead run's bridge network, as its backend made it.
  NetworkParams dead_net = RunNetwork(dead_run, 0xfffe);
  client_.Call("POST", "/networks/create", NetworkCreateBody(dead_net, dead_run, "999999 1"))
      .ValueOrThrow();

  int reclaimed = live->ReclaimStale().ValueOrThrow();
  EXPECT_GE(reclaimed, 3) << "the container, the network and the run directory";
  EXPECT_EQ(client_.Request("GET", "/networks/" + dead_net.name).ValueOrThrow().status, 404)
      << "the dead run's network survived";
  EXPECT_NE(::access(("/sys/class/net/" + dead_net.bridge).c_str(), F_OK), 0);
  EXPECT_TRUE(client_.Call("GET", "/containers/" + orphan + "/json", nullptr, true)
                  .ValueOrThrow()
                  .is_null());
  EXPECT_TRUE(client_.Call("GET", "/containers/" + foreign + "/json").ok())
      << "not ours: untouched";
  EXPECT_FALSE(harness::ReadFile(workdir_ + "/docker/" + dead_run + "/owner").ok());
  client_.Call("DELETE", "/containers/" + foreign + "?force=1", nullptr, true).ValueOrThrow();
}

TEST_F(DockerBackendTest, FailedBuildSaysWhyAndLeavesNoImage) {
  // Every layer of this build carries a label no other build has (a LABEL step right after
  // FROM), so the count sees only this build's images, whatever a concurrent process
  // builds meanwhile.
  std::string unique = harness::NewRunId() + "-" + std::to_string(::getpid());
  std::string label = "isobench.test.failed_build=" + unique;
  auto count_ours = [&] {
    json filters = {{"label", json::array({label})}};
    return client_.Call("GET", "/images/json?all=1&filters=" + UrlEncode(filters.dump()))
        .ValueOrThrow()
        .size();
  };
  std::string root = workdir_ + "/badctx";
  harness::MakeDirs(root + "/sbin").ValueOrThrow();
  harness::WriteWholeFile(root + "/sbin/isobench-agent", "x", 0755).ValueOrThrow();
  // A labelled layer, one no cache holds, then a COPY of something the context lacks.
  std::string tar = BuildContextTar(root, "FROM scratch\nLABEL " + label +
                                              "\nCOPY userland/ /\nCOPY missing/ /\n")
                        .ValueOrThrow();
  auto built = BuildFromContext(client_, tar, "isobench/broken:test", {{"isobench", "1"}});
  ASSERT_FALSE(built.ok());
  std::cout << "build error: " << built.error().message() << "\n";
  EXPECT_NE(built.error().message().find("building `isobench/broken:test`"), std::string::npos)
      << built.error().message();
  EXPECT_NE(built.error().message().find("missing"), std::string::npos) << built.error().message();
  EXPECT_EQ(count_ours(), 0u) << "the failed build's layers are removed";
  EXPECT_TRUE(client_.Call("GET", "/images/isobench/broken:test/json", nullptr, true)
                  .ValueOrThrow()
                  .is_null());
}

TEST_F(DockerBackendTest, OldGuestImagesArePrunedButNotOneInUse) {
  // Five small labelled images, a second apart (Created has one-second resolution).
  std::string root = workdir_ + "/prunectx";
  harness::MakeDirs(root + "/sbin").ValueOrThrow();
  harness::WriteWholeFile(root + "/sbin/isobench-agent", "x", 0755).ValueOrThrow();
  std::string unique = std::to_string(::getpid());
  std::vector<std::string> hashes;
  for (int i = 0; i < 5; ++i) {
    std::string hash = "prunetest-" + unique + "-" + std::to_string(i);
    harness::WriteWholeFile(root + "/n", hash).ValueOrThrow();
    std::string tar = BuildContextTar(root, "FROM scratch\nCOPY userland/ /\n").ValueOrThrow();
    BuildFromContext(client_, tar, ImageTag(hash),
                     {{"isobench", "1"}, {kLabelImageHash, hash}, {"isobench.prunetest", unique}})
        .ValueOrThrow();
    hashes.push_back(hash);
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  }
  // The oldest is in use by a (created, never started) container.
  json body = {{"Image", ImageTag(hashes[0])}, {"Cmd", json::array({"/sbin/isobench-agent"})}};
  json made = client_.Call("POST", "/containers/create", body).ValueOrThrow();
  std::string user = made["Id"];
  auto exists = [&](const std::string& hash) {
    return !client_.Call("GET", "/images/" + ImageTag(hash) + "/json", nullptr, true)
                .ValueOrThrow()
                .is_null();
  };
  // Scoped to this test's images: a conformance run beside it (ctest -j) keeps its own.
  PruneGuestImages(client_, image_.hash, /*min_age_seconds=*/0, "isobench.prunetest=" + unique);
  EXPECT_TRUE(exists(hashes[0])) << "an image a container uses was removed";
  EXPECT_FALSE(exists(hashes[1]));
  for (int i = 2; i < 5; ++i)
    EXPECT_TRUE(exists(hashes[i])) << "one of the three newest went: " << i;
  EXPECT_TRUE(exists(image_.hash)) << "the image asked for went";
  client_.Call("DELETE", "/containers/" + user + "?force=1", nullptr, true).ValueOrThrow();
  for (const auto& hash : hashes)
    (void)client_.Call("DELETE", "/images/" + ImageTag(hash), nullptr, true);
}

TEST_F(DockerBackendTest, AbsentDaemonIsUnusableWithTheReason) {
  auto context = Context(harness::NewRunId());
  context.options["docker.host"] = "unix://" + workdir_ + "/no-daemon.sock";
  auto backend = MakeDockerBackend(context).ValueOrThrow();
  auto availability = backend->Probe();
  EXPECT_FALSE(availability.usable);
  std::cout << "unusable: " << availability.reason << "\n";
  EXPECT_NE(
      availability.reason.find("cannot reach the Docker daemon at " + workdir_ + "/no-daemon.sock"),
      std::string::npos)
      << availability.reason;
  harness::InstanceSpec spec;
  spec.name = "x";
  auto instance = backend->Create(spec);
  ASSERT_FALSE(instance.ok());
  EXPECT_NE(instance.error().message().find("cannot reach"), std::string::npos);
  EXPECT_TRUE(backend->ReclaimStale().ok());
}

// Create -> ready over ISOBENCH_DOCKER_STARTS starts (default 5); the median is printed.
TEST_F(DockerBackendTest, CreateToReadyTimes) {
  int starts = std::max(
      1, std::atoi(std::getenv("ISOBENCH_DOCKER_STARTS") ? std::getenv("ISOBENCH_DOCKER_STARTS")
                                                         : "5"));
  std::string run = harness::NewRunId();
  auto backend = MakeDockerBackend(Context(run)).ValueOrThrow();
  ASSERT_TRUE(backend->Probe().usable);
  std::vector<double> ready, cpu;
  std::map<std::string, std::vector<double>> phases;
  for (int i = 0; i < starts; ++i) {
    harness::InstanceSpec spec;
    spec.name = "s" + std::to_string(i);
    auto instance = backend->Create(spec).ValueOrThrow();
    ready.push_back(instance->startup().ready_seconds);
    cpu.push_back(instance->startup().host_cpu_seconds);
    for (const auto& p : instance->startup().phases) phases[p.name].push_back(p.seconds);
    ASSERT_TRUE(instance->Destroy().ok());
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
  };
  std::cout << "docker create->ready over " << starts << " starts: median " << median(ready) * 1e3
            << " ms, min " << *std::min_element(ready.begin(), ready.end()) * 1e3 << " ms, max "
            << *std::max_element(ready.begin(), ready.end()) * 1e3 << " ms; host cpu median "
            << median(cpu) * 1e3 << " ms; phases (median ms):";
  for (const char* name : {"create", "start", "inspect", "connected", "ready"})
    std::cout << " " << name << "=" << median(phases[name]) * 1e3;
  std::cout << "\n";
  EXPECT_TRUE(Containers("isobench.run=" + run).empty());
}

// Kills the host's dockerd (as a crash would) and starts it again with the same command
// line: the instance's death is reported as an error, Destroy still removes the
// container once the daemon is back, and the backend goes on creating. Opt-in, since it
// restarts the daemon every other user of this host shares.
TEST_F(DockerBackendTest, DaemonRestartMidRun) {
  if (std::getenv("ISOBENCH_DOCKER_RESTART") == nullptr)
    GTEST_SKIP() << "restarts the host's dockerd: set ISOBENCH_DOCKER_RESTART=1 to run it";
  std::string run = harness::NewRunId();
  auto backend = MakeDockerBackend(Context(run)).ValueOrThrow();
  ASSERT_TRUE(backend->Probe().usable);
  harness::InstanceSpec spec;
  spec.name = "restart";
  auto instance = backend->Create(spec).ValueOrThrow();
  ASSERT_EQ(instance->Exec({"/bin/true"}).ValueOrThrow().exit_code, 0);

  std::string pid_text = harness::ReadFile("/var/run/docker.pid").ValueOrThrow();
  pid_t dockerd = static_cast<pid_t>(std::atoi(pid_text.c_str()));
  ASSERT_GT(dockerd, 0);
  std::string cmdline =
      harness::ReadFile("/proc/" + std::to_string(dockerd) + "/cmdline").ValueOrThrow();
  std::vector<std::string> args;
  for (size_t pos = 0; pos < cmdline.size();) {
    size_t end = cmdline.find('\0', pos);
    if (end == std::string::npos) end = cmdline.size();
    args.push_back(cmdline.substr(pos, end - pos));
    pos = end + 1;
  }
  ASSERT_EQ(::kill(dockerd, SIGKILL), 0);
  for (int i = 0; i < 100 && ::kill(dockerd, 0) == 0; ++i) ::usleep(50 * 1000);
  // Detached (double fork, own session), its log where ci/setup.sh puts it.
  pid_t child = ::fork();
  if (child == 0) {
    if (::fork() == 0) {
      ::setsid();
      int log =
          ::open("/var/log/isobench-dockerd.log", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      ::dup2(null, 0);
      ::dup2(log, 1);
      ::dup2(log, 2);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execvp(argv[0], argv.data());
      ::_exit(127);
    }
    ::_exit(0);
  }
  ::waitpid(child, nullptr, 0);

  // While the daemon is down or restoring, the agent either still answers or the call
  // fails; it never hangs.
  auto during = instance->Exec({"/bin/true"}, std::chrono::seconds(5));
  bool back = false;
  for (int i = 0; i < 200 && !back; ++i) {
    back = DockerClient::Connect(DockerSocketPath("").ValueOrThrow()).ok();
    if (!back) ::usleep(100 * 1000);
  }
  ASSERT_TRUE(back) << "dockerd did not come back; see /var/log/isobench-dockerd.log";
  // Without live-restore the restarted daemon kills what was running.
  bool dead = false;
  for (int i = 0; i < 100 && !dead; ++i) {
    dead = !instance->Exec({"/bin/true"}, std::chrono::seconds(2)).ok();
    if (!dead) ::usleep(100 * 1000);
  }
  auto after = instance->Exec({"/bin/true"}, std::chrono::seconds(2));
  if (!after.ok()) std::cout << "after the restart: " << after.error().message() << "\n";
  EXPECT_TRUE(instance->Destroy().ok());
  EXPECT_TRUE(Containers("isobench.run=" + run).empty());
  spec.name = "restart2";
  auto again = backend->Create(spec);
  ASSERT_TRUE(again.ok()) << again.error().message();
  EXPECT_EQ((*again)->Exec({"/bin/true"}).ValueOrThrow().exit_code, 0);
  (void)during;
}

TEST_F(DockerBackendTest, ZZNothingOfOursIsLeft) {
  // `docker ps -a --filter label=isobench=1`, minus containers of other live runs.
  for (const auto& c : Containers("isobench=1")) {
    std::string owner = c.value("Labels", json::object()).value("isobench.owner", "");
    EXPECT_NE(owner.rfind(std::to_string(::getpid()) + " ", 0), 0u) << "left behind: " << c.dump();
  }
}

}  // namespace
}  // namespace isobench::container::docker
