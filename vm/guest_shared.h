// What a guest launcher's backend (vm through libvirt, qemu-raw) shares with every
// instance it made, which may outlive it: the context and options, the names in use,
// the chosen accelerator and the run directories.
//
//   struct Shared : GuestShared { ... };                 // plus the launcher's own state
//   ISO_ASSIGN_OR_RETURN(auto shared, MakeGuestShared<Shared>(context, "vm"));
//   auto probe = shared->ProbeState<Shared>(timeout);    // a KVM probe guest's state
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "harness/backend.h"
#include "vm/accelerator.h"
#include "vm/guest_files.h"
#include "vm/vm_options.h"

namespace isobench::vm {

struct GuestShared {
  harness::BackendContext context;
  VmOptions options;
  std::mutex mu;  // guards live_names, and what a launcher adds
  std::optional<AcceleratorChoice> accel;
  std::set<std::string> live_names;
  std::shared_ptr<GuestRunDirs> dirs;  // shared with the state of the backend's probe guests

  std::string RunSocketDir() const { return options.socket_dir + "/" + context.run_id; }
  std::string RunDiskDir() const { return context.workdir + "/vm/" + context.run_id; }

  // False when a live instance of this backend already has the name.
  bool Reserve(const std::string& name) {
    std::lock_guard<std::mutex> lock(mu);
    return live_names.insert(name).second;
  }
  void Unreserve(const std::string& name) {
    std::lock_guard<std::mutex> lock(mu);
    live_names.erase(name);
  }

  // The state of a guest that asks whether KVM works: the same context, options and run
  // directories, a short ready limit, no shutdown wait, and none of the caller's kernel
  // command line (a deliberately panicking guest's `rdinit=/nonexistent` once made KVM
  // look broken and every boot fall back to TCG).
  template <typename T>
  std::shared_ptr<T> ProbeState(std::chrono::milliseconds ready_timeout) const {
    auto probe = std::make_shared<T>();
    probe->context = context;
    probe->options = options;
    probe->dirs = dirs;
    probe->options.ready_timeout = ready_timeout;
    probe->options.shutdown_timeout = std::chrono::milliseconds(0);
    probe->options.cmdline_extra.clear();
    return probe;
  }
};

// The options parsed, the run id checked (it names directories and domains: the same
// character set as instance names), the run directories ready to be made on first use.
template <typename T>
harness::Result<std::shared_ptr<T>> MakeGuestShared(const harness::BackendContext& context,
                                                    std::string_view launcher) {
  ISO_ASSIGN_OR_RETURN(VmOptions options, ParseVmOptions(context.options));
  ISO_RETURN_IF_ERROR(
      harness::ValidateInstanceName(context.run_id).Context(std::string(launcher) + ": run id"));
  auto shared = std::make_shared<T>();
  shared->context = context;
  shared->options = std::move(options);
  shared->dirs =
      std::make_shared<GuestRunDirs>(shared->options.socket_dir, context.workdir, context.run_id);
  return shared;
}

}  // namespace isobench::vm
