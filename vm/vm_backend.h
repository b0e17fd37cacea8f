// The "vm" backend: each instance is a transient libvirt domain that boots the image's
// kernel and initramfs directly, with the agent as /init.
//
//   harness::BackendRegistry registry;
//   vm::RegisterVmBackend(registry);
//   ISO_ASSIGN_OR_RETURN(auto backend, registry.Make("vm", context));  // context.image
//   ISO_ASSIGN_OR_RETURN(auto instance, backend->Create(spec));        // returns when ready
//
// Per instance: domain `isobench-<run_id>-<name>` (type kvm or qemu, see accelerator.h),
// console ttyS0 and agent channel ttyS1 on unix sockets under
// `<vm.socket_dir>/<run_id>/<name>.{con,ch}`, an optional raw scratch disk (disk_bytes)
// under `<workdir>/vm/<run_id>/<name>.img`. Startup phases, on the host clock from the
// moment Create() is entered: domain_created (virDomainCreateXML returned),
// first_console_byte, kernel ("Linux version" on the console), init (the agent's
// "init started" console line), ready (the agent's ready line on the channel);
// host_cpu_seconds is the qemu process's CPU time at ready.
//
// Destroy() asks the agent to power off (ACPI) for up to vm.shutdown_timeout_s, then
// destroys the domain and removes the sockets and disk. Domains are started with
// VIR_DOMAIN_START_AUTODESTROY, so they die with the harness's libvirt connection even if
// the harness is killed. ReclaimStale() destroys isobench-labelled domains (name prefix
// and <metadata>) of runs whose harness process is gone, and their socket/disk dirs.
//
// Options: see vm_options.h. Unsupported InstanceSpec fields (volumes) are errors, not
// silently ignored; the SecurityProfile does not apply (the guest kernel is the boundary).
#pragma once

#include <memory>
#include <string>

#include "harness/backend.h"
#include "vm/guest_files.h"  // RunOwnerAlive

namespace isobench::vm {

// A product of Kind::kVm: boots a guest kernel, slow to start, no volumes yet.
harness::BackendTraits VmTraits();

// Registers "vm".
void RegisterVmBackend(harness::BackendRegistry& registry);

harness::Result<std::unique_ptr<harness::Backend>> MakeVmBackend(
    const harness::BackendContext& context);

}  // namespace isobench::vm
