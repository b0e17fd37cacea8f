// The same guest without libvirt: a bare qemu command line built from the GuestConfig
// the "vm" backend turns into domain XML, so benchmarks can show a "qemu-raw" reference
// row and the cost of libvirt itself (DESIGN.md: "libvirt's overhead is real, measure it").
//
//   ISO_ASSIGN_OR_RETURN(std::vector<std::string> argv, BuildQemuArgv(guest));
//   // qemu-system-x86_64 -name guest=...,debug-threads=on -machine pc,accel=tcg,usb=off ...
//
//   harness::BackendRegistry registry;
//   RegisterRawQemuBackend(registry);                       // "qemu-raw"
//   ISO_ASSIGN_OR_RETURN(auto backend, registry.Make("qemu-raw", context));
//   ISO_ASSIGN_OR_RETURN(auto instance, backend->Create(spec));   // phases as for "vm",
//   // with "process_spawned" in place of "domain_created"
//
//   // or, for one timing without a registry:
//   ISO_ASSIGN_OR_RETURN(harness::StartupTiming t, TimeRawQemuBoot(context, spec));
//
// Equivalence with the libvirt domain: same kernel, initrd, command line, machine type,
// accelerator, vCPUs, memory, serial ports (isa-serial 0/1 on unix sockets qemu listens
// on), disk and network model; -nodefaults, no USB, no balloon; -no-reboot stands for
// <on_reboot>destroy</on_reboot>. Not reproduced: libvirt's cgroup placement, seccomp
// sandbox (-sandbox), DAC relabelling and the unprivileged qemu user — those are part
// of what the difference between the two rows measures. vCPU pinning and CPU quota need
// libvirt (per-thread affinity, cgroups) and are refused here.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "harness/backend.h"
#include "harness/error.h"
#include "vm/guest_config.h"

namespace isobench::vm {

inline constexpr const char* kDefaultQemuBinary = "/usr/bin/qemu-system-x86_64";

harness::Result<std::vector<std::string>> BuildQemuArgv(
    const GuestConfig& guest, const std::string& qemu_binary = kDefaultQemuBinary);

// The vm backend's traits, as a floor row: the same guest without libvirt.
harness::BackendTraits RawQemuTraits();

// Registers "qemu-raw" (options: the vm.* keys of vm_options.h; vm.emulator names the
// qemu binary; vm.uri is unused).
void RegisterRawQemuBackend(harness::BackendRegistry& registry);

harness::Result<std::unique_ptr<harness::Backend>> MakeRawQemuBackend(
    const harness::BackendContext& context);

// Boots `spec` once with bare qemu, waits for the agent, powers off, and returns the
// startup timing (nothing is left behind).
harness::Result<harness::StartupTiming> TimeRawQemuBoot(const harness::BackendContext& context,
                                                        const harness::InstanceSpec& spec);

}  // namespace isobench::vm
