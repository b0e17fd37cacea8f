#include "vm/raw_qemu.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace isobench::vm {
namespace {

GuestConfig Guest() {
  GuestConfig g;
  g.name = "isobench-r1-web1";
  g.kernel = "/img/vmlinuz";
  g.initrd = "/img/initramfs.cpio";
  g.cmdline = DefaultKernelCmdline();
  g.console_socket = "/run/isobench-vm/r1/web1.rcon";
  g.channel_socket = "/run/isobench-vm/r1/web1.rch";
  g.run_id = "r1";
  g.instance_name = "web1";
  return g;
}

// The value following `flag` (first occurrence), or "" if absent.
std::string After(const std::vector<std::string>& argv, const std::string& flag, int nth = 0) {
  for (size_t i = 0; i + 1 < argv.size(); ++i)
    if (argv[i] == flag && nth-- == 0) return argv[i + 1];
  return "";
}

bool Has(const std::vector<std::string>& argv, const std::string& arg) {
  return std::find(argv.begin(), argv.end(), arg) != argv.end();
}

TEST(RawQemuTest, SameGuestAsTheDomain) {
  auto argv = BuildQemuArgv(Guest());
  ASSERT_TRUE(argv.ok()) << argv.error().message();
  EXPECT_EQ((*argv)[0], kDefaultQemuBinary);
  EXPECT_EQ(After(*argv, "-name"), "guest=isobench-r1-web1,process=isobench-raw,debug-threads=on");
  EXPECT_EQ(After(*argv, "-machine"), "pc,accel=tcg,usb=off");
  EXPECT_EQ(After(*argv, "-cpu"), "qemu64");
  EXPECT_EQ(After(*argv, "-m"), "256");
  EXPECT_EQ(After(*argv, "-smp"), "1,sockets=1,cores=1,threads=1");
  EXPECT_EQ(After(*argv, "-kernel"), "/img/vmlinuz");
  EXPECT_EQ(After(*argv, "-initrd"), "/img/initramfs.cpio");
  EXPECT_EQ(After(*argv, "-append"), DefaultKernelCmdline());
  EXPECT_TRUE(Has(*argv, "-nodefaults"));
  EXPECT_TRUE(Has(*argv, "-no-reboot")) << "<on_reboot>destroy</on_reboot>";
  EXPECT_EQ(After(*argv, "-chardev", 0),
            "socket,id=charserial0,path=/run/isobench-vm/r1/web1.rcon,server=on,wait=off");
  EXPECT_EQ(After(*argv, "-device", 0), "isa-serial,chardev=charserial0,id=serial0,index=0");
  EXPECT_EQ(After(*argv, "-chardev", 1),
            "socket,id=charserial1,path=/run/isobench-vm/r1/web1.rch,server=on,wait=off");
  EXPECT_EQ(After(*argv, "-device", 1), "isa-serial,chardev=charserial1,id=serial1,index=1");
  EXPECT_EQ(After(*argv, "-drive"), "");
  EXPECT_EQ(After(*argv, "-netdev"), "");
}

TEST(RawQemuTest, KvmDiskNetworkAndHugepages) {
  GuestConfig g = Guest();
  g.accelerator = Accelerator::kKvm;
  g.machine = MachineType::kQ35;
  g.vcpus = 2;
  g.memory_bytes = 1ull << 30;
  g.hugepages = true;
  g.disk = DiskConfig{"/d.img", "none", "native", true};
  g.network = NetworkConfig{"user", "", "52:54:00:00:00:02"};
  auto argv = BuildQemuArgv(g, "/opt/qemu");
  ASSERT_TRUE(argv.ok()) << argv.error().message();
  EXPECT_EQ((*argv)[0], "/opt/qemu");
  EXPECT_EQ(After(*argv, "-machine"), "q35,accel=kvm,usb=off");
  EXPECT_EQ(After(*argv, "-cpu"), "host");
  EXPECT_EQ(After(*argv, "-m"), "1024");
  EXPECT_EQ(After(*argv, "-mem-path"), "/dev/hugepages");
  EXPECT_EQ(After(*argv, "-smp"), "2,sockets=1,cores=2,threads=1");
  EXPECT_EQ(
      After(*argv, "-drive"),
      "file=/d.img,format=raw,if=none,id=drive-virtio-disk0,cache=none,aio=native,readonly=on");
  EXPECT_TRUE(Has(*argv, "virtio-blk-pci,drive=drive-virtio-disk0,id=virtio-disk0"));
  EXPECT_EQ(After(*argv, "-netdev"), "user,id=net0");
  EXPECT_TRUE(Has(*argv, "virtio-net-pci,netdev=net0,mac=52:54:00:00:00:02"));
}

TEST(RawQemuTest, MicrovmUsesMmioDevices) {
  GuestConfig g = Guest();
  g.machine = MachineType::kMicrovm;
  g.disk = DiskConfig{"/d.img", "writeback", "threads", false};
  g.network = NetworkConfig{"bridge", "br0", ""};
  auto argv = BuildQemuArgv(g);
  ASSERT_TRUE(argv.ok()) << argv.error().message();
  EXPECT_EQ(After(*argv, "-machine"), "microvm,accel=tcg");
  EXPECT_TRUE(Has(*argv, "virtio-blk-device,drive=drive-virtio-disk0,id=virtio-disk0"));
  EXPECT_EQ(After(*argv, "-netdev"), "bridge,id=net0,br=br0");
  EXPECT_TRUE(Has(*argv, "virtio-net-device,netdev=net0"));
}

TEST(RawQemuTest, RefusesWhatOnlyLibvirtProvides) {
  GuestConfig g = Guest();
  g.vcpu_pins = {1};
  EXPECT_EQ(BuildQemuArgv(g).error().errno_value(), EOPNOTSUPP);
  g = Guest();
  g.cpu_quota = 0.5;
  EXPECT_EQ(BuildQemuArgv(g).error().errno_value(), EOPNOTSUPP);
  g = Guest();
  g.io_weight = 300;
  EXPECT_EQ(BuildQemuArgv(g).error().errno_value(), EOPNOTSUPP);
  g = Guest();
  g.network = NetworkConfig{"network", "default", ""};
  EXPECT_EQ(BuildQemuArgv(g).error().errno_value(), EOPNOTSUPP);
  g = Guest();
  g.memory_bytes = (256ull << 20) + 4096;
  EXPECT_FALSE(BuildQemuArgv(g).ok());
  g = Guest();
  g.kernel = "relative";
  EXPECT_FALSE(BuildQemuArgv(g).ok());
}

}  // namespace
}  // namespace isobench::vm
