#include "vm/vm_options.h"

#include <gtest/gtest.h>

namespace isobench::vm {
namespace {

TEST(VmOptionsTest, DefaultsWhenNothingIsSet) {
  auto o = ParseVmOptions({{"container.runtime", "x"}});  // other backends' keys are ignored
  ASSERT_TRUE(o.ok()) << o.error().message();
  EXPECT_EQ(o->uri, "qemu:///system");
  EXPECT_EQ(o->accel, "auto");
  EXPECT_EQ(o->machine, MachineType::kPc);
  EXPECT_EQ(o->cpu_readback, CpuReadback::kFeatureWords);
  EXPECT_EQ(o->ready_timeout, std::chrono::seconds(120));
  EXPECT_EQ(o->socket_dir, "/run/isobench-vm");
  EXPECT_TRUE(o->pin.empty());
}

TEST(VmOptionsTest, ParsesEveryKey) {
  auto o = ParseVmOptions({{"vm.uri", "qemu:///session"},
                           {"vm.accel", "tcg"},
                           {"vm.machine", "q35"},
                           {"vm.cpu_readback", "features"},
                           {"vm.cmdline_extra", "mitigations=off"},
                           {"vm.ready_timeout_s", "2.5"},
                           {"vm.shutdown_timeout_s", "0"},
                           {"vm.kvm_probe_timeout_s", "7"},
                           {"vm.hugepages", "1"},
                           {"vm.pin", "2,3"},
                           {"vm.disk_cache", "writeback"},
                           {"vm.disk_io", "threads"},
                           {"vm.socket_dir", "/tmp/s"},
                           {"vm.emulator", "/usr/bin/qemu-system-x86_64"},
                           {"vm.row_suffix", "-minimal-kernel"}});
  ASSERT_TRUE(o.ok()) << o.error().message();
  EXPECT_EQ(o->uri, "qemu:///session");
  EXPECT_EQ(o->accel, "tcg");
  EXPECT_EQ(o->machine, MachineType::kQ35);
  EXPECT_EQ(o->cpu_readback, CpuReadback::kPerFeature);
  EXPECT_EQ(o->cmdline_extra, "mitigations=off");
  EXPECT_EQ(o->ready_timeout, std::chrono::milliseconds(2500));
  EXPECT_EQ(o->shutdown_timeout, std::chrono::milliseconds(0));
  EXPECT_EQ(o->kvm_probe_timeout, std::chrono::seconds(7));
  EXPECT_TRUE(o->hugepages);
  EXPECT_EQ(o->pin, (std::vector<int>{2, 3}));
  EXPECT_EQ(o->disk_cache, "writeback");
  EXPECT_EQ(o->disk_io, "threads");
  EXPECT_EQ(o->socket_dir, "/tmp/s");
  EXPECT_EQ(o->emulator, "/usr/bin/qemu-system-x86_64");
  EXPECT_EQ(o->row_suffix, "-minimal-kernel");
}

TEST(VmOptionsTest, RejectsBadValuesAndUnknownKeys) {
  for (auto [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"vm.accel", "hvf"},
           {"vm.machine", "isapc"},
           {"vm.cpu_readback", "fast"},
           {"vm.cpu_readback", ""},
           {"vm.ready_timeout_s", "soon"},
           {"vm.ready_timeout_s", "-1"},
           {"vm.hugepages", "maybe"},
           {"vm.pin", "1,,2"},
           {"vm.pin", "x"},
           {"vm.socket_dir", "relative"},
           {"vm.uri", ""},
           {"vm.row_suffix", "minimal"},
           {"vm.row_suffix", "-"},
           {"vm.row_suffix", "-a/../b"},
           {"vm.row_suffix", "-Big"},
           {"vm.row_suffix", "-abcdefghijklmnopqrstuvwx"},
           {"vm.readytimeout", "5"}}) {
    auto o = ParseVmOptions({{key, value}});
    EXPECT_FALSE(o.ok()) << key << "=" << value;
    if (!o.ok()) {
      EXPECT_NE(o.error().message().find(key), std::string::npos) << o.error().message();
    }
  }
}

}  // namespace
}  // namespace isobench::vm
