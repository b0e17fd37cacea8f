// The description of one guest, independent of how it is launched.
//
// A `GuestConfig` is a plain value: `BuildDomainXml` (domain_xml.h) turns it into a
// libvirt domain, `BuildQemuArgv` (raw_qemu.h) into the equivalent bare qemu command line,
// so the "vm" rows and the "qemu-raw" reference rows boot exactly the same guest.
//
//   GuestConfig guest;
//   guest.name = "isobench-20250101T000000-42-web1";
//   guest.kernel = image.kernel;
//   guest.initrd = image.initramfs;
//   guest.cmdline = DefaultKernelCmdline();
//   guest.console_socket = dir + "/web1.con";
//   guest.channel_socket = dir + "/web1.ch";
//   ISO_RETURN_IF_ERROR(ValidateGuestConfig(guest));
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "harness/error.h"

namespace isobench::vm {

enum class Accelerator { kKvm, kTcg };
enum class MachineType { kPc, kQ35, kMicrovm };

// How libvirt reads the started guest's CPU back from qemu before it runs the vCPUs
// (qemuProcessUpdateAndVerifyCPU). kPerFeature is libvirt's own choice when qemu has
// the `unavailable-features` property: one qom-get per CPU property, about 400 QMP
// round trips (0.6-0.9 s under TCG here). kFeatureWords deletes that capability in the
// domain XML (<qemu:capabilities>), so libvirt takes its x86 path: qemu's CPUID feature
// words and filtered features, two round trips, the same checks. libvirt marks such a
// domain tainted (custom-hypervisor-feature). Launchers other than libvirt ignore it.
enum class CpuReadback { kFeatureWords, kPerFeature };

// "kvm" | "tcg".
std::string_view AcceleratorName(Accelerator accelerator);
// "words" | "features".
std::string_view CpuReadbackName(CpuReadback readback);
harness::Result<CpuReadback> ParseCpuReadback(std::string_view text);
// "pc" | "q35" | "microvm".
std::string_view MachineTypeName(MachineType machine);
harness::Result<MachineType> ParseMachineType(std::string_view text);

// A raw image file attached as a virtio-blk disk (/dev/vda in the guest).
struct DiskConfig {
  std::string path;
  std::string cache =
      "none";  // libvirt <driver cache=>: none|writeback|writethrough|directsync|unsafe
  std::string io = "native";  // libvirt <driver io=>: native|threads|io_uring
  bool read_only = false;
};

// One virtio-net interface.
struct NetworkConfig {
  std::string type = "network";    // libvirt <interface type=>: network|bridge|user
  std::string source = "default";  // network or bridge name; ignored for user
  std::string mac;                 // empty: let libvirt/qemu choose
  std::string target_dev;          // the host's tap name; empty: libvirt's vnetN
};

struct GuestConfig {
  std::string name;  // the libvirt domain name (also qemu -name)
  Accelerator accelerator = Accelerator::kTcg;
  MachineType machine = MachineType::kPc;
  CpuReadback cpu_readback = CpuReadback::kFeatureWords;
  int vcpus = 1;
  uint64_t memory_bytes = 256ull << 20;
  // Host CPU for each vCPU (index = vCPU); empty: no pinning.
  std::vector<int> vcpu_pins;
  bool hugepages = false;
  // Whole-guest CPU limit in CPUs (libvirt <global_quota>); 0: none.
  double cpu_quota = 0;
  // The qemu process's proportional I/O share, 10..1000 (libvirt <blkiotune><weight>,
  // written to the domain's blkio / io cgroup); 0: none.
  uint32_t io_weight = 0;

  std::string kernel;
  std::string initrd;
  std::string cmdline;

  std::optional<DiskConfig> disk;
  std::optional<NetworkConfig> network;

  // Unix sockets qemu listens on: ttyS0 (kernel console) and ttyS1 (agent channel).
  std::string console_socket;
  std::string channel_socket;

  // Labels written into <metadata> so stale domains can be recognised as ours.
  std::string run_id;
  std::string instance_name;

  std::string emulator;  // empty: libvirt's default for the arch / "qemu-system-x86_64"
};

// The guest kernel command line every isobench VM boots with: kernel console (and the
// early console) on ttyS0, the agent channel on ttyS1, loglevel high enough that the
// "Linux version" banner (KERN_NOTICE) reaches the console for the "kernel" phase, and a
// panic turns into an immediate reboot that the domain's <on_reboot>destroy ends.
std::string DefaultKernelCmdline(std::string_view extra = {});

// Checks what every launcher relies on: name, sizes, absolute paths, sun_path length
// of the sockets, disk cache/io combinations qemu accepts. No file-system access.
harness::Result<void> ValidateGuestConfig(const GuestConfig& guest);

// sockaddr_un.sun_path holds 108 bytes including the terminating NUL.
inline constexpr size_t kMaxUnixSocketPath = 107;

}  // namespace isobench::vm
