#include "vm/guest_from_spec.h"

#include <gtest/gtest.h>

#include <cerrno>

#include "vm/raw_qemu.h"

namespace isobench::vm {
namespace {

class GuestFromSpecTest : public ::testing::Test {
 protected:
  GuestFromSpecTest() {
    context_.run_id = "20260101T000000-1";
    context_.image.kernel = "/images/vmlinuz";
    context_.image.initramfs = "/images/initramfs.cpio";
    spec_.name = "web1";
  }
  harness::Result<GuestConfig> Build(const GuestPaths& paths = {"/run/s", "/run/d", "."}) {
    return GuestFromSpec(spec_, options_, context_, "isobench-x-web1", Accelerator::kKvm, paths);
  }
  harness::BackendContext context_;
  harness::InstanceSpec spec_;
  VmOptions options_;
};

TEST_F(GuestFromSpecTest, BothLaunchersGetTheSameGuestButForTheirFilePaths) {
  spec_.vcpus = 2;
  spec_.memory_bytes = 512ull << 20;
  spec_.disk_bytes = 1 << 30;
  spec_.network = "user";
  options_.cmdline_extra = "quiet";
  auto libvirt = Build({"/run/s", "/run/d", "."});
  auto raw = Build({"/run/s", "/run/d", ".r"});
  ASSERT_TRUE(libvirt.ok()) << libvirt.error().message();
  ASSERT_TRUE(raw.ok()) << raw.error().message();
  EXPECT_EQ(libvirt->cmdline, DefaultKernelCmdline("isobench.hostname=web1 quiet"));
  EXPECT_EQ(libvirt->console_socket, "/run/s/web1.con");
  EXPECT_EQ(raw->channel_socket, "/run/s/web1.rch");
  EXPECT_EQ(raw->disk->path, "/run/d/web1.rimg");
  raw->console_socket = libvirt->console_socket;
  raw->channel_socket = libvirt->channel_socket;
  raw->disk->path = libvirt->disk->path;
  // Every other field is the same: compare through the bare qemu command line.
  auto a = BuildQemuArgv(*libvirt, "qemu"), b = BuildQemuArgv(*raw, "qemu");
  ASSERT_TRUE(a.ok()) << a.error().message();
  ASSERT_TRUE(b.ok()) << b.error().message();
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(raw->vcpus, 2);
  EXPECT_EQ(raw->memory_bytes, 512ull << 20);
  EXPECT_EQ(raw->kernel, "/images/vmlinuz");
  EXPECT_EQ(raw->run_id, context_.run_id);
}

TEST_F(GuestFromSpecTest, HostnameIsTheSpecsOrTheInstanceNameAndChecked) {
  spec_.hostname = "db.example";
  auto guest = Build();
  ASSERT_TRUE(guest.ok()) << guest.error().message();
  EXPECT_NE(guest->cmdline.find(" isobench.hostname=db.example"), std::string::npos)
      << guest->cmdline;
  for (const char* bad : {"a b", "x;reboot", "with/slash"}) {
    spec_.hostname = bad;
    auto refused = Build();
    ASSERT_FALSE(refused.ok()) << bad;
    EXPECT_EQ(refused.error().errno_value(), EINVAL);
    EXPECT_NE(refused.error().message().find(bad), std::string::npos);
  }
  spec_.hostname = std::string(65, 'h');
  EXPECT_FALSE(Build().ok());
}

TEST_F(GuestFromSpecTest, PinsQuotaAndVolumes) {
  spec_.vcpus = 3;
  options_.pin = {2, 3};
  spec_.cpu_quota = 0.5;
  auto guest = Build();
  ASSERT_TRUE(guest.ok());
  EXPECT_EQ(guest->vcpu_pins, (std::vector<int>{2, 3, 2}));
  EXPECT_DOUBLE_EQ(guest->cpu_quota, 0.5);
  // The bare qemu launcher refuses what only libvirt can do, rather than drop it.
  EXPECT_EQ(BuildQemuArgv(*guest, "qemu").error().errno_value(), EOPNOTSUPP);
  spec_.profile.cpu_limit = false;
  EXPECT_DOUBLE_EQ(Build()->cpu_quota, 0);
  spec_.volumes.push_back({});
  EXPECT_EQ(Build().error().errno_value(), EOPNOTSUPP);
}

TEST(ParseGuestNetwork, FormsAndRefusals) {
  EXPECT_FALSE(ParseGuestNetwork("none")->has_value());
  EXPECT_FALSE(ParseGuestNetwork("")->has_value());
  EXPECT_EQ((*ParseGuestNetwork("user"))->type, "user");
  EXPECT_EQ((*ParseGuestNetwork("network"))->source, "default");
  EXPECT_EQ((*ParseGuestNetwork("network:isolated"))->source, "isolated");
  auto bridge = ParseGuestNetwork("bridge:br0");
  EXPECT_EQ((*bridge)->type, "bridge");
  EXPECT_EQ((*bridge)->source, "br0");
  // Plain "bridge", as every backend spells it: the host's benchmark bridge.
  auto ours = ParseGuestNetwork("bridge");
  EXPECT_EQ((*ours)->type, "bridge");
  EXPECT_EQ((*ours)->source, "isobench0");
  for (const char* bad : {"bridge:", "user:x", "tap:tap0", "slirp"}) {
    auto refused = ParseGuestNetwork(bad);
    ASSERT_FALSE(refused.ok()) << bad;
    EXPECT_EQ(refused.error().errno_value(), EINVAL);
    EXPECT_NE(refused.error().message().find("none, bridge, user, network:<name>, bridge:<name>"),
              std::string::npos);
  }
}

}  // namespace
}  // namespace isobench::vm
