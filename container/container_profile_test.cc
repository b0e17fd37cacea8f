// Every SecurityProfile switch is honoured: for each one, the default profile shows the
// protection and the profile with only that switch flipped shows it gone (or, for the
// opt-in user and time namespaces, added). These are the weakened profiles the
// conformance suite needs to prove its probes can fail.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <sstream>

#include "container/capabilities.h"
#include "container/cgroup.h"
#include "container/container_backend.h"
#include "container/namespaces.h"
#include "container/test_image.h"
#include "harness/fd.h"

namespace isobench::container {
namespace {

using harness::InstanceSpec;
using harness::SecurityProfile;

class ProfileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto& image = testing::SharedTestImage();
    if (!image.skip_reason.empty()) GTEST_SKIP() << image.skip_reason;
    context_.workdir = image.workdir;
    context_.image = image.image;
    context_.run_id = harness::NewRunId();
    auto backend = MakeContainerBackend(context_);
    ASSERT_TRUE(backend.ok()) << backend.error().message();
    backend_ = std::move(backend).value();
    mounts_before_ = testing::MountPoints();
  }
  void TearDown() override {
    backend_.reset();
    if (HasFailure() || IsSkipped()) return;
    EXPECT_EQ(testing::MountPoints(), mounts_before_);
    EXPECT_EQ(testing::RunCgroupDirs(context_.run_id), std::vector<std::string>());
  }

  std::unique_ptr<harness::Instance> Start(const SecurityProfile& profile,
                                           const std::function<void(InstanceSpec&)>& edit = {}) {
    InstanceSpec spec;
    spec.name = "p" + std::to_string(next_++);
    spec.profile = profile;
    spec.memory_bytes = 64ull << 20;
    spec.pids_limit = 64;
    spec.cpu_quota = 0.5;
    if (edit) edit(spec);
    auto created = backend_->Create(spec);
    EXPECT_TRUE(created.ok()) << profile.name << ": " << created.error().message();
    return created.ok() ? std::move(created).value() : nullptr;
  }

  nlohmann::json Info(harness::Instance& instance) {
    auto info = instance.Call({{"op", "info"}}, std::chrono::seconds(5));
    EXPECT_TRUE(info.ok()) << info.error().message();
    return info.ok() ? *info : nlohmann::json::object();
  }

  harness::ExecResult Sh(harness::Instance& instance, const std::string& script) {
    auto result = instance.Exec({"/bin/sh", "-c", script}, std::chrono::seconds(10));
    EXPECT_TRUE(result.ok()) << result.error().message();
    return result.ok() ? *result : harness::ExecResult();
  }

  // The fstype/options of the mount at `target` inside, or "" when none.
  static std::string MountOptions(const nlohmann::json& info, const std::string& target) {
    std::string found;
    for (const auto& m : info["mounts"])
      if (m["target"] == target)
        found = m["fstype"].get<std::string>() + " " + m["options"].get<std::string>();
    return found;
  }

  static SecurityProfile Flip(bool SecurityProfile::*field) {
    SecurityProfile p;
    p.*field = !(p.*field);
    p.name = "flipped";
    return p;
  }

  harness::BackendContext context_;
  std::unique_ptr<harness::Backend> backend_;
  std::string mounts_before_;
  int next_ = 0;
};

TEST_F(ProfileTest, PidNamespace) {
  auto strong = Start({});
  auto weak = Start(Flip(&SecurityProfile::pid_ns));
  ASSERT_TRUE(strong && weak);
  EXPECT_EQ(Info(*strong)["pid"], 1);
  EXPECT_NE(Info(*weak)["pid"], 1);
  EXPECT_EQ(Info(*weak)["pid"], weak->host_pid());
}

TEST_F(ProfileTest, MountNamespace) {
  auto weak = Start(Flip(&SecurityProfile::mount_ns));
  ASSERT_TRUE(weak);
  // The instance's root is now visible in the host's mount table.
  EXPECT_NE(testing::MountPoints(), mounts_before_);
  auto inside = NamespaceInodes(weak->host_pid());
  auto outside = NamespaceInodes(::getpid());
  ASSERT_TRUE(inside.ok() && outside.ok());
  EXPECT_EQ((*inside)["mnt"], (*outside)["mnt"]);
  auto r = Sh(*weak, "cat /etc/hostname; ls /proc/1 >/dev/null && echo ok");
  EXPECT_NE(r.stdout_text.find("ok"), std::string::npos) << r.stderr_text;
  ASSERT_TRUE(weak->Destroy().ok());
  EXPECT_EQ(testing::MountPoints(), mounts_before_);
}

TEST_F(ProfileTest, UtsNamespace) {
  struct utsname host;
  ::uname(&host);
  auto strong = Start({});
  auto weak = Start(Flip(&SecurityProfile::uts_ns));
  ASSERT_TRUE(strong && weak);
  EXPECT_EQ(Info(*strong)["hostname"], "p0");
  EXPECT_EQ(Info(*weak)["hostname"], host.nodename);
  struct utsname after;
  ::uname(&after);
  EXPECT_STREQ(after.nodename, host.nodename) << "the host was renamed";
}

TEST_F(ProfileTest, IpcNetCgroupAndTimeNamespaces) {
  auto outside = NamespaceInodes(::getpid());
  ASSERT_TRUE(outside.ok());
  struct Case {
    bool SecurityProfile::*field;
    const char* ns;
  };
  for (Case c :
       {Case{&SecurityProfile::ipc_ns, "ipc"}, Case{&SecurityProfile::net_ns, "net"},
        Case{&SecurityProfile::cgroup_ns, "cgroup"}, Case{&SecurityProfile::time_ns, "time"}}) {
    auto strong = Start({});
    auto flipped = Start(Flip(c.field));
    ASSERT_TRUE(strong && flipped) << c.ns;
    auto a = NamespaceInodes(strong->host_pid());
    auto b = NamespaceInodes(flipped->host_pid());
    ASSERT_TRUE(a.ok() && b.ok());
    bool default_on = SecurityProfile().*(c.field);
    EXPECT_EQ((*a)[c.ns] != (*outside)[c.ns], default_on) << c.ns;
    EXPECT_EQ((*b)[c.ns] != (*outside)[c.ns], !default_on) << c.ns;
  }
}

TEST_F(ProfileTest, NetworkNamespaceShowsOnlyLoopback) {
  auto strong = Start({});
  auto weak = Start(Flip(&SecurityProfile::net_ns));
  ASSERT_TRUE(strong && weak);
  EXPECT_EQ(Info(*strong)["interfaces"], nlohmann::json::array({"lo"}));
  EXPECT_GT(Info(*weak)["interfaces"].size(), 1u);
}

TEST_F(ProfileTest, CgroupNamespace) {
  auto strong = Start({});
  auto weak = Start(Flip(&SecurityProfile::cgroup_ns));
  ASSERT_TRUE(strong && weak);
  std::string mine = Info(*strong)["cgroup"];
  std::string theirs = Info(*weak)["cgroup"];
  EXPECT_EQ(mine.find("/isobench/"), std::string::npos) << mine;
  EXPECT_NE(theirs.find("/isobench/" + context_.run_id + "/p1"), std::string::npos) << theirs;
}

TEST_F(ProfileTest, UserNamespace) {
  auto userns = Start(Flip(&SecurityProfile::user_ns));
  ASSERT_TRUE(userns);
  auto r =
      Sh(*userns, "cat /proc/self/uid_map /proc/self/gid_map; id -u; touch /new && echo wrote");
  EXPECT_NE(r.stdout_text.find("0     100000      65536"), std::string::npos) << r.stdout_text;
  EXPECT_NE(r.stdout_text.find("wrote"), std::string::npos) << r.stdout_text << r.stderr_text;
  auto status = harness::ReadFile("/proc/" + std::to_string(userns->host_pid()) + "/status");
  ASSERT_TRUE(status.ok());
  EXPECT_NE(status->find("Uid:\t100000\t100000\t100000\t100000"), std::string::npos);
  // Image files owned by host root are unmapped inside: the overflow id.
  auto ls = Sh(*userns, "stat -c %u /bin/busybox");
  EXPECT_EQ(ls.stdout_text, "65534\n");
  auto strong = Start({});
  ASSERT_TRUE(strong);
  EXPECT_NE(Sh(*strong, "cat /proc/self/uid_map").stdout_text.find("4294967295"),
            std::string::npos);
}

// The root filesystem of the instance's mount namespace, as seen by a host process
// that joins it (setns resets the joiner's root to the namespace's root).
std::string NamespaceRootFstype(pid_t pid) {
  int pipefd[2];
  if (::pipe(pipefd) != 0) return "pipe failed";
  pid_t child = ::fork();
  if (child == 0) {
    ::close(pipefd[0]);
    std::string path = "/proc/" + std::to_string(pid) + "/ns/mnt";
    int ns = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    // The host's /proc, held open: after setns "/proc" is the instance's.
    int proc = ::open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (ns < 0 || proc < 0 || ::setns(ns, CLONE_NEWNS) != 0) ::_exit(1);
    int fd = ::openat(proc, "self/mountinfo", O_RDONLY | O_CLOEXEC);
    if (fd < 0) ::_exit(2);
    std::string info;
    char chunk[4096];
    for (ssize_t n; (n = ::read(fd, chunk, sizeof chunk)) > 0;) info.append(chunk, n);
    std::istringstream in(info);
    for (std::string line; std::getline(in, line);) {
      std::istringstream fields(line);
      std::string id, parent, dev, root, point;
      fields >> id >> parent >> dev >> root >> point;
      if (point != "/") continue;
      size_t dash = line.find(" - ");
      std::string fstype = line.substr(dash + 3, line.find(' ', dash + 3) - dash - 3);
      (void)!::write(pipefd[1], fstype.data(), fstype.size());
    }
    ::_exit(0);
  }
  ::close(pipefd[1]);
  std::string out;
  char buf[256];
  for (ssize_t n; (n = ::read(pipefd[0], buf, sizeof buf)) > 0;) out.append(buf, n);
  ::close(pipefd[0]);
  ::waitpid(child, nullptr, 0);
  return out;
}

TEST_F(ProfileTest, PivotRoot) {
  auto strong = Start({});
  auto weak = Start(Flip(&SecurityProfile::pivot_root));
  ASSERT_TRUE(strong && weak);
  // After pivot_root the namespace's root is the overlay; after a mere chroot the
  // host's root filesystem is still there, under the instance's root.
  EXPECT_EQ(NamespaceRootFstype(strong->host_pid()), "overlay");
  std::string weak_root = NamespaceRootFstype(weak->host_pid());
  EXPECT_NE(weak_root, "overlay");
  EXPECT_NE(weak_root, "");
  // Inside, both look alike: chroot hides what lies outside from mountinfo.
  EXPECT_EQ(Sh(*weak, "cat /etc/hostname").exit_code, 0);
}

TEST_F(ProfileTest, ReadOnlyRoot) {
  auto normal = Start({});
  auto read_only = Start(Flip(&SecurityProfile::read_only_root));
  ASSERT_TRUE(normal && read_only);
  EXPECT_EQ(Sh(*normal, "touch /x").exit_code, 0);
  auto r = Sh(*read_only, "touch /x");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.stderr_text.find("Read-only file system"), std::string::npos) << r.stderr_text;
}

TEST_F(ProfileTest, MaskPaths) {
  auto strong = Start({});
  auto weak = Start(Flip(&SecurityProfile::mask_paths));
  ASSERT_TRUE(strong && weak);
  auto strong_info = Info(*strong);
  auto weak_info = Info(*weak);
  EXPECT_NE(MountOptions(strong_info, "/proc/keys"), "");
  EXPECT_EQ(MountOptions(weak_info, "/proc/keys"), "");
  EXPECT_NE(MountOptions(strong_info, "/proc/sys").find("ro,"), std::string::npos)
      << MountOptions(strong_info, "/proc/sys");
  EXPECT_EQ(MountOptions(weak_info, "/proc/sys"), "");
  EXPECT_NE(Sh(*strong, "echo 1 > /proc/sys/kernel/ns_last_pid").exit_code, 0);
}

TEST_F(ProfileTest, MinimalDev) {
  auto strong = Start({});
  auto weak = Start(Flip(&SecurityProfile::minimal_dev));
  ASSERT_TRUE(strong && weak);
  std::string minimal = Sh(*strong, "ls /dev").stdout_text;
  EXPECT_EQ(minimal,
            "fd\nfull\nmqueue\nnull\nptmx\npts\nrandom\nshm\nstderr\nstdin\nstdout\ntty\n"
            "urandom\nzero\n");
  EXPECT_GT(Sh(*weak, "ls /dev").stdout_text.size(), minimal.size());
  // With CAP_MKNOD (Docker's default set) a disk node can be made, but the devices
  // cgroup refuses to open it.
  auto mounts = DetectCgroupMounts();
  ASSERT_TRUE(mounts.ok());
  if (mounts->controllers.count("devices")) {
    auto r = Sh(*strong, "mknod /tmp/disk b 8 0 && head -c1 /tmp/disk");
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.stderr_text.find("Operation not permitted"), std::string::npos) << r.stderr_text;
  }
}

TEST_F(ProfileTest, ReadOnlySys) {
  auto strong = Start({});
  auto weak = Start(Flip(&SecurityProfile::read_only_sys));
  ASSERT_TRUE(strong && weak);
  auto strong_info = Info(*strong);
  auto weak_info = Info(*weak);
  EXPECT_EQ(MountOptions(strong_info, "/sys").rfind("sysfs ro", 0), 0u)
      << MountOptions(strong_info, "/sys");
  EXPECT_EQ(MountOptions(weak_info, "/sys").rfind("sysfs rw", 0), 0u)
      << MountOptions(weak_info, "/sys");
  // /sys/fs/cgroup shows only the instance's own cgroups, read-only.
  auto r =
      Sh(*strong, "ls /sys/fs/cgroup/memory | grep -c isobench; mkdir /sys/fs/cgroup/memory/x");
  EXPECT_EQ(r.stdout_text, "0\n");
  EXPECT_NE(r.exit_code, 0);
}

TEST_F(ProfileTest, Capabilities) {
  auto host = HostBoundingSet();
  auto defaults = ParseCapabilities(harness::DockerDefaultCapabilities());
  ASSERT_TRUE(host.ok() && defaults.ok());
  auto strong = Start({});
  auto weak = Start(Flip(&SecurityProfile::drop_capabilities));
  SecurityProfile chown_only;
  chown_only.capabilities = {"CAP_CHOWN", "net_bind_service"};
  auto custom = Start(chown_only);
  ASSERT_TRUE(strong && weak && custom);
  auto bnd = [&](harness::Instance& i) {
    auto mask = ParseCapabilityMask(Info(i)["status"]["CapEff"].get<std::string>());
    EXPECT_TRUE(mask.ok());
    return mask.ok() ? *mask : 0;
  };
  EXPECT_EQ(bnd(*strong), *defaults & *host) << FormatCapabilities(bnd(*strong));
  EXPECT_EQ(bnd(*weak), *host) << FormatCapabilities(bnd(*weak));
  auto wanted = ParseCapabilities({"CAP_CHOWN", "CAP_NET_BIND_SERVICE"});
  ASSERT_TRUE(wanted.ok());
  EXPECT_EQ(bnd(*custom), *wanted);
}

TEST_F(ProfileTest, NoNewPrivs) {
  auto strong = Start({});
  auto weak = Start(Flip(&SecurityProfile::no_new_privs));
  ASSERT_TRUE(strong && weak);
  EXPECT_EQ(Info(*strong)["status"]["NoNewPrivs"], "1");
  EXPECT_EQ(Info(*weak)["status"]["NoNewPrivs"], "0");
}

TEST_F(ProfileTest, Seccomp) {
  auto strong = Start({});
  auto weak = Start(Flip(&SecurityProfile::seccomp));
  ASSERT_TRUE(strong && weak);
  EXPECT_EQ(Info(*strong)["status"]["Seccomp"], "2");
  EXPECT_EQ(Info(*weak)["status"]["Seccomp"], "0");
  // Even with the capability kept, the filter refuses mount(2) and unshare(2).
  SecurityProfile caps;
  caps.capabilities = {"CAP_SYS_ADMIN"};
  auto admin = Start(caps);
  ASSERT_TRUE(admin);
  auto r = Sh(*admin, "mount -t tmpfs none /mnt");
  EXPECT_NE(r.exit_code, 0) << r.stderr_text;
  r = Sh(*admin, "unshare -n true");
  EXPECT_NE(r.exit_code, 0);
  caps.seccomp = false;
  auto admin_unfiltered = Start(caps);
  ASSERT_TRUE(admin_unfiltered);
  EXPECT_EQ(Sh(*admin_unfiltered, "mount -t tmpfs none /mnt").exit_code, 0);
}

TEST_F(ProfileTest, CgroupLimits) {
  auto mounts = DetectCgroupMounts();
  ASSERT_TRUE(mounts.ok());
  if (ModeOf(*mounts) == CgroupMode::kV2)
    GTEST_SKIP() << "this test reads cgroup v1 files; v2 is covered by cgroup_driver_test";
  auto strong = Start({});
  ASSERT_TRUE(strong);
  SecurityProfile no_mem = Flip(&SecurityProfile::memory_limit);
  SecurityProfile no_pids = Flip(&SecurityProfile::pids_limit);
  SecurityProfile no_cpu = Flip(&SecurityProfile::cpu_limit);
  auto weak_mem = Start(no_mem);
  auto weak_pids = Start(no_pids);
  auto weak_cpu = Start(no_cpu);
  ASSERT_TRUE(weak_mem && weak_pids && weak_cpu);
  auto read = [&](const std::string& controller, const std::string& name, const std::string& file) {
    if (!mounts->controllers.count(controller)) return std::string("absent");
    auto text = harness::ReadFile(mounts->controllers[controller] + "/" +
                                  CgroupRelativePath(context_.run_id, name) + "/" + file);
    return text.ok() ? *text : std::string("absent");
  };
  EXPECT_EQ(read("memory", "p0", "memory.limit_in_bytes"), "67108864\n");
  EXPECT_NE(read("memory", "p1", "memory.limit_in_bytes"), "67108864\n");
  EXPECT_EQ(read("pids", "p0", "pids.max"), "64\n");
  EXPECT_EQ(read("pids", "p2", "pids.max"), "max\n");
  EXPECT_EQ(read("cpu", "p0", "cpu.cfs_quota_us"), "50000\n");
  // Unlimited, the instance still has a `cpu` group of its own, with no quota.
  EXPECT_EQ(read("cpu", "p3", "cpu.cfs_quota_us"),
            mounts->controllers.count("cpu") ? "-1\n" : "absent");
  // The pids limit holds inside: 100 sleepers against a cap of 64. Each sleeps long
  // enough (2 s) that on a loaded host the first are still alive when the 65th forks.
  auto r = Sh(*strong, "for i in $(seq 100); do sleep 2 & done; wait");
  EXPECT_NE(r.stderr_text.find("Resource temporarily unavailable"), std::string::npos)
      << r.stderr_text;
}

TEST_F(ProfileTest, Rlimits) {
  auto strong = Start({});
  auto weak = Start(Flip(&SecurityProfile::rlimits));
  ASSERT_TRUE(strong && weak);
  struct rlimit host;
  ::getrlimit(RLIMIT_NOFILE, &host);
  EXPECT_EQ(Sh(*strong, "ulimit -n").stdout_text, "1024\n");
  EXPECT_EQ(Sh(*weak, "ulimit -n").stdout_text, std::to_string(host.rlim_cur) + "\n");
}

}  // namespace
}  // namespace isobench::container
