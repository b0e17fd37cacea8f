// One InstanceSpec, one guest: the GuestConfig both launchers boot, the libvirt one
// (vm_backend.cc) and the bare qemu one (raw_qemu.cc), built in one place so that the
// "vm" rows and the "qemu-raw" reference rows boot exactly the same guest: the same
// kernel command line (with the guest's hostname), vCPUs, memory, network and disk.
//
//   ISO_ASSIGN_OR_RETURN(GuestConfig guest,
//                        GuestFromSpec(spec, options, context, DomainName(run_id, spec.name),
//                                      accel, {.dir = sockets, .disk_dir = disks}));
//
// What a launcher cannot express it refuses, it does not drop: BuildQemuArgv errors on
// vCPU pinning and CPU quotas (libvirt features), as on a libvirt network.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "harness/backend.h"
#include "harness/error.h"
#include "vm/guest_config.h"
#include "vm/vm_options.h"

namespace isobench::vm {

// Where a guest's files go: <dir>/<instance><tag>con and <tag>ch (console and agent
// channel sockets), <disk_dir>/<instance><tag>img. The tag keeps two launchers' files of
// one instance name apart ("." for libvirt, ".r" for bare qemu).
struct GuestPaths {
  std::string dir;
  std::string disk_dir;
  std::string tag = ".";
};

// "none" or "": no interface; "user"; "network" or "network:<libvirt network>";
// "bridge:<host bridge>". Anything else is EINVAL, naming the accepted forms.
harness::Result<std::optional<NetworkConfig>> ParseGuestNetwork(std::string_view network);

// The guest of `spec` under `options`: the image from `context`, the hostname (the
// instance name unless spec.hostname) passed to the agent as isobench.hostname=, vCPU
// pins from vm.pin, the CPU quota when the profile limits CPU. Errors: volumes (no
// shared file system in the guest yet), a hostname outside 1..64 of [A-Za-z0-9._-], a
// network ParseGuestNetwork refuses. No file-system access.
harness::Result<GuestConfig> GuestFromSpec(const harness::InstanceSpec& spec,
                                           const VmOptions& options,
                                           const harness::BackendContext& context, std::string name,
                                           Accelerator accelerator, const GuestPaths& paths);

}  // namespace isobench::vm
