// The OCI runtime backend: instances run by an external OCI runtime (runc here; crun,
// youki or runsc elsewhere) from a bundle whose config.json comes from the same
// InstanceSpec and SecurityProfile the native runtime honours (oci_spec.h), with the
// agent as the container's process and its control channel passed as fd 3
// (`--preserve-fds 1`).
//
//   harness::BackendRegistry registry;
//   RegisterOciBackends(registry);                   // "runc", "crun", "oci"
//   ISO_ASSIGN_OR_RETURN(auto runc, registry.Make("runc", context));
//   if (!runc->Probe().usable) ...                   // e.g. crun on hybrid cgroups
//   ISO_ASSIGN_OR_RETURN(auto instance, runc->Create(spec));   // the agent is ready
//
// Profiles: every SecurityProfile switch maps onto config.json (or, for pivot_root, onto
// `--no-pivot`). The profile named "<runtime>-default" (or "runtime-default") runs the
// runtime's own `spec` defaults unmodified except for what running our agent needs
// (process.args, process.terminal, root.path, linux.cgroupsPath, annotations); that
// spec is saved at Describe()["<name>.default_spec"] so a caller can see what it promises.
//
// What it creates, all labelled and found again by ReclaimStale():
//   <workdir>/oci/<name>/<run_id>/owner              pid and start time of the run
//   <workdir>/oci/<name>/<run_id>/<instance>/{config.json,upper,work,rootfs,runtime.log}
//       rootfs: an overlay of the shared image (read-only lower) on the host
//   containers "isobench-<run_id>-<instance>" in the runtime state root
//       /run/isobench-oci/<name>, annotated org.isobench.run-id / org.isobench.instance
//   cgroups /isobench-oci/<container id> (created and removed by the runtime)
//
// BackendContext::options understood (<name> is the backend's name):
//   oci.runtime               the runtime binary of the generic "oci" backend
//   <name>.path               another binary for a named runtime ("runc.path")
//   oci.userns_map            id map of user-namespaced profiles (default "100000")
//   oci.ready_timeout_ms      how long to wait for the agent (default 10000)
#pragma once

#include <memory>
#include <string>

#include "harness/backend.h"

namespace isobench::container::oci {

// Registers "runc" and "crun" (each unusable, with the reason, where it is missing or
// refuses to run a container) and "oci" (the runtime given by the oci.runtime option).
void RegisterOciBackends(harness::BackendRegistry& registry);

// Kind::kContainer, an OCI runtime; "runc" and "crun" are reference rows (the runtimes
// the native one is measured against), any other name a product.
harness::BackendTraits OciTraits(const std::string& name);

// `name` is the backend's name; `runtime` a binary name or path ("" for "oci": the
// oci.runtime option).
harness::Result<std::unique_ptr<harness::Backend>> MakeOciBackend(
    const harness::BackendContext& context, const std::string& name, const std::string& runtime);

}  // namespace isobench::container::oci
