// The "vm.*" keys of BackendContext::options, parsed and checked once.
//
//   key                     meaning                                  default
//   vm.uri                  libvirt URI                              qemu:///system
//   vm.accel                auto | kvm | tcg                         auto
//   vm.machine              pc | q35 | microvm                       pc
//   vm.cpu_readback         words | features: how libvirt reads the  words
//                           guest CPU back before the vCPUs run (guest_config.h)
//   vm.cmdline_extra        appended to the guest kernel command line
//   vm.ready_timeout_s      create -> agent ready limit              120
//   vm.shutdown_timeout_s   graceful power-off wait on Destroy       5 (0: hard stop)
//   vm.kvm_probe_timeout_s  probe boot limit when deciding KVM       20 (150 nested)
//   vm.hugepages            0 | 1                                    0
//   vm.pin                  host CPUs for vCPUs, "2,3" (vCPU i -> list[i % n])
//   vm.disk_cache           none|writeback|writethrough|directsync|unsafe   none
//   vm.disk_io              native | threads | io_uring              native
//   vm.socket_dir           where serial-port sockets live           /run/isobench-vm
//   vm.emulator             qemu binary (empty: libvirt's default)
//   vm.row_suffix           appended to the backend's row name, e.g. "-minimal-kernel"
//                           makes the rows vm-minimal-kernel and qemu-raw-minimal-kernel
//
// Unknown "vm.*" keys are an error, so a typo never silently measures the default.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "harness/error.h"
#include "vm/guest_config.h"

namespace isobench::vm {

struct VmOptions {
  std::string uri = "qemu:///system";
  std::string accel = "auto";
  MachineType machine = MachineType::kPc;
  CpuReadback cpu_readback = CpuReadback::kFeatureWords;
  std::string cmdline_extra;
  std::chrono::milliseconds ready_timeout = std::chrono::seconds(120);
  std::chrono::milliseconds shutdown_timeout = std::chrono::seconds(5);
  std::optional<std::chrono::milliseconds> kvm_probe_timeout;  // unset: DefaultKvmProbeTimeout
  bool hugepages = false;
  std::vector<int> pin;
  std::string disk_cache = "none";
  std::string disk_io = "native";
  std::string socket_dir = "/run/isobench-vm";
  std::string emulator;
  std::string row_suffix;  // "-" then letters, digits and '-', or empty
};

harness::Result<VmOptions> ParseVmOptions(const std::map<std::string, std::string>& options);

}  // namespace isobench::vm
