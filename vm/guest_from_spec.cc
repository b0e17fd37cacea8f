#include "vm/guest_from_spec.h"

#include <cerrno>
#include <utility>

#include "harness/bridge.h"

namespace isobench::vm {

using harness::Error;
using harness::Result;

Result<std::optional<NetworkConfig>> ParseGuestNetwork(std::string_view network) {
  if (network.empty() || network == "none") return std::optional<NetworkConfig>();
  NetworkConfig n;
  if (network == "bridge") {
    // The host's benchmark bridge (harness/bridge.h), as for every backend.
    n.type = "bridge";
    n.source = harness::kBridgeName;
    return std::optional<NetworkConfig>(std::move(n));
  }
  size_t colon = network.find(':');
  n.type = std::string(network.substr(0, colon));
  n.source = colon == std::string_view::npos ? "" : std::string(network.substr(colon + 1));
  if (n.type == "network" && n.source.empty()) n.source = "default";
  bool ok = (n.type == "user" && colon == std::string_view::npos) || n.type == "network" ||
            (n.type == "bridge" && !n.source.empty());
  if (!ok)
    return Error("network `" + std::string(network) +
                     "` not supported (none, bridge, user, network:<name>, bridge:<name>)",
                 EINVAL);
  return std::optional<NetworkConfig>(std::move(n));
}

Result<GuestConfig> GuestFromSpec(const harness::InstanceSpec& spec, const VmOptions& options,
                                  const harness::BackendContext& context, std::string name,
                                  Accelerator accelerator, const GuestPaths& paths) {
  if (!spec.volumes.empty())
    return Error("volumes are not supported (no shared file system in the guest yet)", EOPNOTSUPP);
  GuestConfig guest;
  ISO_ASSIGN_OR_RETURN(guest.network, ParseGuestNetwork(spec.network));
  // The agent sets the guest's hostname from this, as the container runtime does from
  // InstanceSpec::hostname.
  const std::string& hostname = spec.hostname.empty() ? spec.name : spec.hostname;
  if (hostname.empty() || hostname.size() > 64 ||
      hostname.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                                 "-._") != std::string::npos)
    return Error("hostname `" + hostname + "` must be 1..64 of [A-Za-z0-9._-]", EINVAL);
  std::string extra = "isobench.hostname=" + hostname;
  if (!options.cmdline_extra.empty()) extra += " " + options.cmdline_extra;

  guest.name = std::move(name);
  guest.accelerator = accelerator;
  guest.machine = options.machine;
  guest.cpu_readback = options.cpu_readback;
  guest.vcpus = spec.vcpus;
  guest.memory_bytes = spec.memory_bytes;
  if (!options.pin.empty())
    for (int i = 0; i < spec.vcpus; ++i)
      guest.vcpu_pins.push_back(options.pin[static_cast<size_t>(i) % options.pin.size()]);
  guest.hugepages = options.hugepages;
  if (spec.profile.cpu_limit) guest.cpu_quota = spec.cpu_quota;
  guest.io_weight = spec.io_weight;
  guest.kernel = context.image.kernel;
  guest.initrd = context.image.initramfs;
  guest.cmdline = DefaultKernelCmdline(extra);
  guest.console_socket = paths.dir + "/" + spec.name + paths.tag + "con";
  guest.channel_socket = paths.dir + "/" + spec.name + paths.tag + "ch";
  guest.run_id = context.run_id;
  guest.instance_name = spec.name;
  guest.emulator = options.emulator;
  if (spec.disk_bytes > 0)
    guest.disk = DiskConfig{paths.disk_dir + "/" + spec.name + paths.tag + "img",
                            options.disk_cache, options.disk_io, false};
  return guest;
}

}  // namespace isobench::vm
