// Lifecycle of the native container backend against the real kernel, as root: start,
// talk to the agent, check the isolation basics, destroy, and prove nothing is left.
// Bad input is in container_bad_input_test.cc.
#include "container/container_backend.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/magic.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "container/capabilities.h"
#include "container/cgroup.h"
#include "container/container_backend_fixture.h"
#include "container/namespaces.h"
#include "container/network.h"
#include "container/test_image.h"
#include "harness/child_process.h"
#include "harness/fd.h"
#include "harness/image.h"
#include "harness/mount.h"

namespace isobench::container {
namespace {

using harness::BackendContext;
using harness::InstanceSpec;
using testing::MountPoints;
using testing::PathExists;
using testing::SharedTestImage;

// Both ways a container starts: in one step (clone3 with CLONE_VM|CLONE_VFORK, the
// default for this profile) and in two (a forked child that waits for the parent's go).
class ContainerLifecycleTest : public ContainerBackendTest,
                               public ::testing::WithParamInterface<const char*> {};

TEST_P(ContainerLifecycleTest, StartsExecsAndDestroysLeavingNothing) {
  context_.options["container.spawn"] = GetParam();
  auto backend = MakeBackend();
  ASSERT_TRUE(backend);
  harness::Availability availability = backend->Probe();
  ASSERT_TRUE(availability.usable) << availability.reason;

  auto created = backend->Create(Spec("life-1"));
  ASSERT_TRUE(created.ok()) << created.error().message();
  auto instance = std::move(created).value();
  pid_t init = instance->host_pid();
  ASSERT_GT(init, 0);

  // Timing: phases in order, ending with ready, all on the host clock.
  const auto& timing = instance->startup();
  EXPECT_GT(timing.ready_seconds, 0);
  std::vector<std::string> names;
  double last = 0;
  for (const auto& phase : timing.phases) {
    names.push_back(phase.name);
    EXPECT_GE(phase.seconds, last) << phase.name;
    last = phase.seconds;
  }
  EXPECT_EQ(names, (std::vector<std::string>{"prepare", "clone", "rootfs", "exec", "ready"}));
  EXPECT_DOUBLE_EQ(timing.phases.back().seconds, timing.ready_seconds);

  // Isolation basics seen from inside.
  EXPECT_EQ(Exec(*instance, {"/bin/hostname"}), "life-1\n");
  std::string cgroup = Exec(*instance, {"cat", "/proc/self/cgroup"});
  std::istringstream lines(cgroup);
  for (std::string line; std::getline(lines, line);) {
    // Hierarchies the instance joined read "/" (cgroupns); the rest are outside it.
    if (line.find(":memory:") != std::string::npos || line.find(":pids:") != std::string::npos) {
      EXPECT_EQ(line.substr(line.rfind(':')), ":/") << line;
    }
  }
  auto info = instance->Call({{"op", "info"}}, std::chrono::seconds(5));
  ASSERT_TRUE(info.ok()) << info.error().message();
  EXPECT_EQ((*info)["pid"], 1);
  EXPECT_EQ((*info)["ppid"], 0);
  EXPECT_EQ((*info)["interfaces"], nlohmann::json::array({"lo"}));
  EXPECT_EQ((*info)["status"]["NoNewPrivs"], "1");
  EXPECT_EQ((*info)["status"]["Seccomp"], "2");
  auto defaults = ParseCapabilities(harness::DockerDefaultCapabilities());
  ASSERT_TRUE(defaults.ok());
  auto bounding = ParseCapabilityMask((*info)["status"]["CapBnd"].get<std::string>());
  ASSERT_TRUE(bounding.ok());
  auto host = HostBoundingSet();
  ASSERT_TRUE(host.ok());
  EXPECT_EQ(*bounding, *defaults & *host) << FormatCapabilities(*bounding);
  EXPECT_EQ((*info)["status"]["CapInh"], "0000000000000000");
  EXPECT_EQ((*info)["status"]["CapAmb"], "0000000000000000");
  // Every namespace differs from the host's.
  auto inside = NamespaceInodes(init);
  auto outside = NamespaceInodes(::getpid());
  ASSERT_TRUE(inside.ok() && outside.ok());
  for (const char* ns : {"mnt", "pid", "uts", "ipc", "net", "cgroup"})
    EXPECT_NE((*inside)[ns], (*outside)[ns]) << ns;
  EXPECT_EQ((*inside)["user"], (*outside)["user"]);
  // Only the instance's own processes are visible; lo is up.
  std::string ps = Exec(*instance, {"ls", "/proc"});
  EXPECT_NE(ps.find("1\n"), std::string::npos);
  std::string lo_flags = Exec(*instance, {"cat", "/sys/class/net/lo/flags"});
  EXPECT_TRUE(std::stoul(lo_flags, nullptr, 16) & 0x1) << "lo is not up: " << lo_flags;
  // The host's mounts did not change while it runs (its mounts are private).
  EXPECT_EQ(MountPoints(), mountinfo_before_);

  // The cgroup limit is in the host's view of its cgroup.
  auto mounts = DetectCgroupMounts();
  ASSERT_TRUE(mounts.ok());
  if (ModeOf(*mounts) != CgroupMode::kV2 && mounts->controllers.count("memory")) {
    std::string dir =
        mounts->controllers["memory"] + "/" + CgroupRelativePath(context_.run_id, "life-1");
    auto limit = harness::ReadFile(dir + "/memory.limit_in_bytes");
    ASSERT_TRUE(limit.ok()) << limit.error().message();
    EXPECT_EQ(*limit, std::to_string(64ull << 20) + "\n");
    auto procs = ReadCgroupProcs(dir);
    ASSERT_TRUE(procs.ok());
    EXPECT_NE(std::find(procs->begin(), procs->end(), init), procs->end());
  }

  auto usage = instance->Usage();
  ASSERT_TRUE(usage.ok()) << usage.error().message();
  EXPECT_GT(usage->pss_bytes, 0u);
  EXPECT_GE(usage->pids, 1);
  EXPECT_GT(usage->cpu_seconds, 0);
  // The instance has a memory limit, so a memory cgroup of its own, whose charge counts
  // what the kernel allocated for it as well; where the controller gives the kernel part
  // (v1 kmem, v2 memory.stat "kernel") it is a part of that charge, else it says why.
  EXPECT_TRUE(usage->memory_cgroup) << usage->memory_missing;
  EXPECT_GT(usage->memory_current_bytes, 0u);
  if (usage->kernel_memory_bytes) {
    EXPECT_GT(*usage->kernel_memory_bytes, 0u);
    EXPECT_LE(*usage->kernel_memory_bytes, usage->memory_current_bytes);
    EXPECT_TRUE(usage->memory_missing.empty()) << usage->memory_missing;
  } else {
    EXPECT_FALSE(usage->memory_missing.empty()) << "a missing kernel figure must say why";
  }

  ASSERT_TRUE(instance->Destroy().ok());
  EXPECT_TRUE(instance->Destroy().ok()) << "Destroy must be idempotent";
  EXPECT_EQ(::kill(init, 0), -1);
  EXPECT_EQ(errno, ESRCH);
  EXPECT_FALSE(PathExists(context_.workdir + "/containers/" + context_.run_id + "/life-1"));
  EXPECT_FALSE(instance->Exec({"/bin/true"}).ok());
  instance.reset();
  backend.reset();
  ExpectNothingLeft();
}

INSTANTIATE_TEST_SUITE_P(Spawn, ContainerLifecycleTest, ::testing::Values("vfork", "fork"),
                         [](const auto& info) { return std::string(info.param); });

TEST_F(ContainerBackendTest, DestructorDestroys) {
  auto backend = MakeBackend();
  ASSERT_TRUE(backend);
  pid_t init = 0;
  {
    auto created = backend->Create(Spec("dtor"));
    ASSERT_TRUE(created.ok()) << created.error().message();
    init = (*created)->host_pid();
  }
  EXPECT_EQ(::kill(init, 0), -1);
  backend.reset();
  ExpectNothingLeft();
}

// The I/O weight reaches the kernel: the instance's blkio (v1) or io (v2) cgroup holds it.
TEST_F(ContainerBackendTest, IoWeightIsInTheInstancesCgroup) {
  auto mounts = DetectCgroupMounts();
  ASSERT_TRUE(mounts.ok()) << mounts.error().message();
  if (std::string why = IoWeightUnavailable(*mounts); !why.empty()) GTEST_SKIP() << why;
  auto backend = MakeBackend();
  ASSERT_TRUE(backend);
  InstanceSpec spec = Spec("iow");
  spec.io_weight = 300;
  auto created = backend->Create(spec);
  ASSERT_TRUE(created.ok()) << created.error().message();
  auto seen = ExpectIoWeight((*created)->host_pid(), *mounts, 300);
  ASSERT_TRUE(seen.ok()) << seen.error().message();
  auto other = ExpectIoWeight((*created)->host_pid(), *mounts, 301);
  ASSERT_FALSE(other.ok()) << "a weight the kernel does not hold must not pass";
  EXPECT_NE(other.error().message().find(seen->file), std::string::npos) << other.error().message();
  EXPECT_NE(seen->file.find(context_.run_id), std::string::npos) << seen->file;
  spec.name = "iow-bad";
  spec.io_weight = 5;
  auto bad = backend->Create(spec);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("I/O weight 5"), std::string::npos) << bad.error().message();
  created->reset();
  backend.reset();
  ExpectNothingLeft();
}

// container.netns_pool: namespaces made ahead by Prewarm(), each taken by one start that
// can use it, with loopback up and nothing else in it; without a pool the start makes
// its own.
TEST_F(ContainerBackendTest, PooledNetworkNamespacesAreFreshAndUsedOnce) {
  auto plain = MakeBackend();
  ASSERT_TRUE(plain);
  auto none = plain->Prewarm(4);
  ASSERT_TRUE(none.ok()) << none.error().message();
  EXPECT_EQ(*none, 0) << "a backend without a pool covers no start";
  plain.reset();

  context_.options["container.netns_pool"] = "2";
  auto backend = MakeBackend();
  ASSERT_TRUE(backend);
  EXPECT_EQ(backend->name(), "container-netns-pool");
  auto ready = backend->Prewarm(5);
  ASSERT_TRUE(ready.ok()) << ready.error().message();
  EXPECT_EQ(*ready, 2) << "the pool holds at most container.netns_pool";

  auto netns_of = [](pid_t pid) {
    struct stat st = {};
    EXPECT_EQ(::stat(("/proc/" + std::to_string(pid) + "/ns/net").c_str(), &st), 0);
    return st.st_ino;
  };
  const ino_t host = netns_of(::getpid());
  std::vector<std::unique_ptr<harness::Instance>> instances;
  std::set<ino_t> seen;
  for (int i = 0; i < 3; ++i) {  // two from the pool, the third makes its own
    auto created = backend->Create(Spec("pool-" + std::to_string(i)));
    ASSERT_TRUE(created.ok()) << created.error().message();
    auto left = backend->Prewarm(0);
    ASSERT_TRUE(left.ok());
    EXPECT_EQ(*left, std::max(0, 1 - i)) << "start " << i << " took one namespace";
    ino_t ns = netns_of((*created)->host_pid());
    EXPECT_NE(ns, host);
    EXPECT_TRUE(seen.insert(ns).second) << "a namespace used twice";
    // sysfs was mounted inside the joined namespace: its only link is lo, and it is up
    // (IFF_UP | IFF_LOOPBACK).
    EXPECT_EQ(Exec(**created, {"ls", "/sys/class/net"}), "lo\n");
    EXPECT_EQ(Exec(**created, {"cat", "/sys/class/net/lo/flags"}), "0x9\n");
    instances.push_back(std::move(created).value());
  }
  // A user namespace owns its network namespace: such a start never takes a pooled one.
  ASSERT_EQ(*backend->Prewarm(1), 1);
  InstanceSpec userns = Spec("pool-userns");
  userns.profile.user_ns = true;
  auto created = backend->Create(userns);
  ASSERT_TRUE(created.ok()) << created.error().message();
  EXPECT_EQ(*backend->Prewarm(0), 1);
  created->reset();
  instances.clear();
  backend.reset();
  ExpectNothingLeft();
}

TEST_F(ContainerBackendTest, ManyInstancesAtOnceAreSeparate) {
  auto backend = MakeBackend();
  ASSERT_TRUE(backend);
  std::vector<std::unique_ptr<harness::Instance>> instances;
  for (int i = 0; i < 3; ++i) {
    auto created = backend->Create(Spec("many-" + std::to_string(i)));
    ASSERT_TRUE(created.ok()) << created.error().message();
    instances.push_back(std::move(created).value());
  }
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(Exec(*instances[i], {"hostname"}), "many-" + std::to_string(i) + "\n");
  // A name in use is refused, and the refusal leaves the live one alone.
  auto duplicate = backend->Create(Spec("many-0"));
  ASSERT_FALSE(duplicate.ok());
  EXPECT_NE(duplicate.error().message().find("File exists"), std::string::npos)
      << duplicate.error().message();
  EXPECT_EQ(Exec(*instances[0], {"hostname"}), "many-0\n");
  instances.clear();
  backend.reset();
  ExpectNothingLeft();
}

TEST_F(ContainerBackendTest, UpperLayerOnDiskWhenDiskStorageIsAsked) {
  auto backend = MakeBackend();
  ASSERT_TRUE(backend);
  const std::string run_dir = context_.workdir + "/containers/" + context_.run_id;
  {
    auto in_ram = backend->Create(Spec("ram"));
    ASSERT_TRUE(in_ram.ok()) << in_ram.error().message();
    Exec(**in_ram, {"touch", "/written"});
    EXPECT_FALSE(PathExists(run_dir + "/ram")) << "a tmpfs upper leaves nothing on the host";

    InstanceSpec spec = Spec("disk");
    spec.disk_bytes = 64ull << 20;
    auto on_disk = backend->Create(spec);
    ASSERT_TRUE(on_disk.ok()) << on_disk.error().message();
    Exec(**on_disk, {"/bin/sh", "-c", "echo data > /var/tmp/file"});
    auto text = harness::ReadFile(run_dir + "/disk/disk/upper/var/tmp/file");
    ASSERT_TRUE(text.ok()) << text.error().message();
    EXPECT_EQ(*text, "data\n");
    // The upper layer is an ext4 file system of disk_bytes, on a loop device.
    auto mounted = harness::IsMountPoint(run_dir + "/disk/disk");
    ASSERT_TRUE(mounted.ok() && *mounted);
    std::string df = Exec(**on_disk, {"/bin/sh", "-c", "df -k / | tail -1"});
    EXPECT_NE(df.find("overlay"), std::string::npos) << df;
    struct statfs fs;
    ASSERT_EQ(::statfs((run_dir + "/disk/disk").c_str(), &fs), 0);
    EXPECT_EQ(fs.f_type, EXT4_SUPER_MAGIC);
    uint64_t total = static_cast<uint64_t>(fs.f_blocks) * static_cast<uint64_t>(fs.f_bsize);
    EXPECT_LE(total, spec.disk_bytes);
    EXPECT_GT(total, spec.disk_bytes * 8 / 10);
    std::string loops = LoopDevicesLabelled(context_.run_id);
    EXPECT_NE(loops, "") << "no loop device carries the run's label";
    ASSERT_TRUE((*on_disk)->Destroy().ok());
    EXPECT_FALSE(PathExists(run_dir + "/disk"));
    EXPECT_EQ(LoopDevicesLabelledAfterDetach(context_.run_id), "")
        << "a loop device outlived Destroy()";
  }
  backend.reset();
  ExpectNothingLeft();
}

TEST_F(ContainerBackendTest, ConcurrentCreatesFromThreads) {
  auto backend = MakeBackend();
  ASSERT_TRUE(backend);
  constexpr int kThreads = 4;
  std::vector<std::unique_ptr<harness::Instance>> instances(kThreads);
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      auto created = backend->Create(Spec("thread-" + std::to_string(i)));
      if (created.ok()) {
        instances[i] = std::move(created).value();
      } else {
        errors[i] = created.error().message();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kThreads; ++i) {
    ASSERT_TRUE(instances[i]) << errors[i];
    EXPECT_EQ(Exec(*instances[i], {"hostname"}), "thread-" + std::to_string(i) + "\n");
  }
  instances.clear();
  backend.reset();
  ExpectNothingLeft();
}

TEST_F(ContainerBackendTest, DeadInitIsReportedWithItsStatus) {
  auto backend = MakeBackend();
  ASSERT_TRUE(backend);
  auto created = backend->Create(Spec("killed"));
  ASSERT_TRUE(created.ok()) << created.error().message();
  auto& instance = **created;
  ASSERT_EQ(::kill(instance.host_pid(), SIGKILL), 0);
  auto result = instance.Exec({"true"}, std::chrono::seconds(5));
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.error().message().find("container init killed by SIGKILL"), std::string::npos)
      << result.error().message();
  EXPECT_TRUE(instance.Destroy().ok());
  created->reset();
  backend.reset();
  ExpectNothingLeft();
}

TEST_F(ContainerBackendTest, VolumesAreMountedReadOnlyWhenAsked) {
  char tmpl[] = "/tmp/isobench-volume-XXXXXX";
  std::string host_dir = ::mkdtemp(tmpl);
  ASSERT_TRUE(harness::WriteWholeFile(host_dir + "/hello", "from host\n").ok());
  auto backend = MakeBackend();
  ASSERT_TRUE(backend);
  InstanceSpec spec = Spec("volumes");
  spec.volumes.push_back({host_dir, "/mnt/data/ro", true});
  spec.volumes.push_back({host_dir, "/mnt/rw", false});
  {
    auto created = backend->Create(spec);
    ASSERT_TRUE(created.ok()) << created.error().message();
    auto& instance = **created;
    EXPECT_EQ(Exec(instance, {"cat", "/mnt/data/ro/hello"}), "from host\n");
    int code = 0;
    Exec(instance, {"touch", "/mnt/data/ro/new"}, &code);
    EXPECT_NE(code, 0);
    Exec(instance, {"touch", "/mnt/rw/new"});
    EXPECT_TRUE(PathExists(host_dir + "/new"));
  }
  backend.reset();
  ExpectNothingLeft();
  (void)harness::RemoveTree(host_dir);
}

TEST_F(ContainerBackendTest, BridgeNetworkGivesAVethIntoTheHostBridge) {
  bool bridge_existed = PathExists(std::string("/sys/class/net/") + kBridgeName);
  auto backend = MakeBackend();
  ASSERT_TRUE(backend);
  std::string host_end;
  {
    InstanceSpec a = Spec("net-a");
    a.network = "bridge";
    InstanceSpec b = Spec("net-b");
    b.network = "bridge";
    auto first = backend->Create(a);
    ASSERT_TRUE(first.ok()) << first.error().message();
    auto second = backend->Create(b);
    ASSERT_TRUE(second.ok()) << second.error().message();
    auto info = (*first)->Call({{"op", "info"}}, std::chrono::seconds(5));
    ASSERT_TRUE(info.ok()) << info.error().message();
    EXPECT_EQ((*info)["interfaces"], nlohmann::json({"lo", "eth0"}));
    std::string addr = Exec(**second, {"ip", "-4", "-o", "addr", "show", "eth0"});
    size_t inet = addr.find("inet 10.203.");
    ASSERT_NE(inet, std::string::npos) << addr;
    std::string peer = addr.substr(inet + 5, addr.find('/', inet) - inet - 5);
    // Both reach the host's bridge address across it, not each other (isolated bridge
    // ports), and not a service the host runs on every address (the bridge's guard).
    int code = -1;
    std::string out = Exec(**first, {"ping", "-c", "1", "-W", "3", kBridgeAddress}, &code);
    EXPECT_EQ(code, 0) << out;
    out = Exec(**first, {"ping", "-c", "1", "-W", "2", peer}, &code);
    EXPECT_NE(code, 0) << "one instance reaches another: " << out;
    harness::Fd service(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    ASSERT_TRUE(service.valid());
    struct sockaddr_in any = {};
    any.sin_family = AF_INET;
    socklen_t any_len = sizeof any;
    ASSERT_EQ(::bind(service.get(), reinterpret_cast<sockaddr*>(&any), sizeof any), 0);
    ASSERT_EQ(::listen(service.get(), 4), 0);
    ASSERT_EQ(::getsockname(service.get(), reinterpret_cast<sockaddr*>(&any), &any_len), 0);
    // Tried with the agent's non-blocking connect (probe #46): the host's service, and
    // a listener in the second instance.
    auto listening = (*second)->Call({{"op", "listen"}, {"port", 0}}, std::chrono::seconds(5));
    ASSERT_TRUE(listening.ok()) << listening.error().message();
    const nlohmann::json targets = {
        {{"address", kBridgeAddress}, {"port", ntohs(any.sin_port)}, {"what", "host"}},
        {{"address", peer}, {"port", (*listening)["port"]}, {"what", "peer"}}};
    auto reach = [&](harness::Instance& from) {
      auto reply =
          from.Call({{"op", "probe"}, {"name", "neighbours"}, {"params", {{"targets", targets}}}},
                    std::chrono::seconds(10));
      EXPECT_TRUE(reply.ok()) << reply.error().message();
      std::map<std::string, std::string> result;
      if (reply.ok())
        for (const auto& [key, value] : (*reply)["observed"].items())
          result[key.substr(0, key.find(' '))] = value.get<std::string>();
      return result;
    };
    auto guarded = reach(**first);
    EXPECT_EQ(guarded["host"], "ECONNREFUSED")
        << "the host's service on 0.0.0.0 answers the bridge";
    EXPECT_EQ(guarded["peer"], "timeout") << "one instance reaches another";
    {
      // A profile without network_guard: a plain bridge port, reaching both.
      InstanceSpec open = Spec("net-open");
      open.network = "bridge";
      open.profile.network_guard = false;
      auto third = backend->Create(open);
      ASSERT_TRUE(third.ok()) << third.error().message();
      out = Exec(**third, {"ping", "-c", "1", "-W", "3", peer}, &code);
      EXPECT_EQ(code, 0) << "the unguarded instance does not reach its neighbour: " << out;
      auto open_reach = reach(**third);
      EXPECT_EQ(open_reach["host"], "connected");
      EXPECT_EQ(open_reach["peer"], "connected");
    }
    // Its exemption went with it: the guard's set is empty again.
    auto exempt = harness::RunCapture(
        {"/usr/sbin/nft", "list", "set", "inet", std::string("isobench_") + kBridgeName, "exempt"});
    ASSERT_TRUE(exempt.ok()) << exempt.error().message();
    EXPECT_EQ(exempt->find("elements"), std::string::npos) << *exempt;
    {
      std::string routes = Exec(**first, {"ip", "route"});
      EXPECT_NE(routes.find("10.203.0.0/16 dev eth0"), std::string::npos) << routes;
      EXPECT_EQ(routes.find("default"), std::string::npos) << "a route off the bridge: " << routes;
    }
    // Nothing arriving on the bridge is routed off the host: the kernel's own route
    // lookup for a packet from the instance to an outside address fails, where it
    // would follow the host's default route with the bridge's forwarding on.
    auto forwarding =
        harness::ReadFile(std::string("/proc/sys/net/ipv4/conf/") + kBridgeName + "/forwarding");
    ASSERT_TRUE(forwarding.ok());
    EXPECT_EQ(*forwarding, "0\n");
    auto default_route = harness::RunCapture({"/sbin/ip", "-4", "route", "show", "default"});
    if (default_route.ok() && !default_route->empty()) {
      auto lookup = harness::RunCapture(
          {"/sbin/ip", "-4", "route", "get", "198.51.100.7", "from", peer, "iif", kBridgeName});
      EXPECT_FALSE(lookup.ok()) << "routed off the host: " << *lookup;
    } else {
      std::cout << "(no default route on this host: the off-host lookup is not tried)\n";
    }
    ASSERT_TRUE((*first)->endpoint().has_value());
    EXPECT_EQ((*first)->endpoint()->host_address, kBridgeAddress);
    auto links = harness::RunCapture({"/bin/sh", "-c", "ls /sys/class/net | grep ^isbv || true"});
    ASSERT_TRUE(links.ok());
    EXPECT_EQ(std::count(links->begin(), links->end(), '\n'), 2) << *links;
    // The bridge has a MAC address of its own: one that followed its lowest port would
    // move when that port's instance goes, and the others would lose the host until
    // their ARP entries expire.
    auto assign =
        harness::ReadFile(std::string("/sys/class/net/") + kBridgeName + "/addr_assign_type");
    ASSERT_TRUE(assign.ok());
    EXPECT_EQ(*assign, "3\n") << "NET_ADDR_SET";
    out = Exec(**second, {"ping", "-c", "1", "-W", "3", kBridgeAddress}, &code);
    EXPECT_EQ(code, 0) << out;
    ASSERT_TRUE((*first)->Destroy().ok());
    out = Exec(**second, {"ping", "-c", "1", "-W", "2", kBridgeAddress}, &code);
    EXPECT_EQ(code, 0) << "the host went unreachable when another instance left: " << out;
  }
  auto links = harness::RunCapture({"/bin/sh", "-c", "ls /sys/class/net | grep ^isbv || true"});
  ASSERT_TRUE(links.ok());
  EXPECT_EQ(*links, "") << "host ends survived their instances";
  backend.reset();
  if (!bridge_existed) {
    EXPECT_FALSE(PathExists(std::string("/sys/class/net/") + kBridgeName)) << "bridge left behind";
  }
  ExpectNothingLeft();
}

TEST_F(ContainerBackendTest, ReclaimStaleRemovesWhatACrashedRunLeft) {
  // A real crash: a forked harness creates an instance and dies without destructors.
  std::string crashed_run = harness::NewRunId() + "0";  // a different id, same pid suffix
  int pipefd[2];
  ASSERT_EQ(::pipe(pipefd), 0);
  pid_t harness_pid = ::fork();
  if (harness_pid == 0) {
    ::close(pipefd[0]);
    BackendContext crashed = context_;
    crashed.run_id = crashed_run;
    // The agent exits when its harness goes away, and with it its pid namespace; a
    // process of a profile without one survives, as after a real crash.
    pid_t survivor = -1;
    auto backend = MakeContainerBackend(crashed);
    if (backend.ok()) {
      InstanceSpec spec = Spec("orphan");
      spec.profile.pid_ns = false;
      auto created = (*backend)->Create(spec);
      if (created.ok()) {
        auto r = (*created)->Exec({"/bin/sh", "-c", "setsid sleep 1000 >/dev/null 2>&1 & echo $!"});
        if (r.ok()) survivor = std::atoi(r->stdout_text.c_str());
      }
      // An upper layer on disk: its ext4 image stays mounted on the host.
      InstanceSpec disk = Spec("orphan-disk");
      disk.disk_bytes = 16ull << 20;
      auto with_disk = (*backend)->Create(disk);
      if (!with_disk.ok()) survivor = -1;
      // Crash here, with both instances alive: no destructor runs.
      (void)!::write(pipefd[1], &survivor, sizeof survivor);
      ::_exit(0);
    }
    (void)!::write(pipefd[1], &survivor, sizeof survivor);
    ::_exit(0);
  }
  ::close(pipefd[1]);
  pid_t orphan = -1;
  ASSERT_EQ(::read(pipefd[0], &orphan, sizeof orphan), static_cast<ssize_t>(sizeof orphan));
  ::close(pipefd[0]);
  ASSERT_EQ(::waitpid(harness_pid, nullptr, 0), harness_pid);
  ASSERT_GT(orphan, 0) << "the crashing harness could not create its instance";
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_EQ(::kill(orphan, 0), 0) << "the orphan should outlive its harness";
  ASSERT_FALSE(RunCgroupDirs(crashed_run).empty());
  ASSERT_TRUE(PathExists(context_.workdir + "/containers/" + crashed_run + "/owner"));
  ASSERT_NE(LoopDevicesLabelled(crashed_run), "")
      << "the crashed run's disk should still be mounted";

  auto backend = MakeBackend();
  ASSERT_TRUE(backend);
  auto live = backend->Create(Spec("live"));
  ASSERT_TRUE(live.ok()) << live.error().message();
  auto reclaimed = backend->ReclaimStale();
  ASSERT_TRUE(reclaimed.ok()) << reclaimed.error().message();
  EXPECT_GE(*reclaimed, 2);
  EXPECT_EQ(RunCgroupDirs(crashed_run), std::vector<std::string>());
  EXPECT_FALSE(PathExists(context_.workdir + "/containers/" + crashed_run));
  // The lazily unmounted image's loop device detaches once its last user is gone.
  EXPECT_EQ(LoopDevicesLabelledAfterDetach(crashed_run), "");
  // The orphan was killed (and is reaped by whoever adopted it).
  auto gone = [&] {
    auto stat = harness::ReadFile("/proc/" + std::to_string(orphan) + "/stat");
    return !stat.ok() || stat->find(") Z ") != std::string::npos;
  };
  for (int i = 0; i < 200 && !gone(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_TRUE(gone());
  // A live run is never touched.
  EXPECT_EQ(Exec(**live, {"hostname"}), "live\n");
  live->reset();
  backend.reset();
  ExpectNothingLeft();
}

}  // namespace
}  // namespace isobench::container
