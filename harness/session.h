// A run's shared set-up: the guest image, the backends it will use, the labels and
// the environment every result carries. The CLI, the benchmarks and the conformance
// suite all start here, so they agree on what "every usable backend" means.
//
//   SessionOptions options;
//   options.backends = {"container", "vm"};      // empty: every usable backend
//   ISO_ASSIGN_OR_RETURN(Session session, OpenSession(options, BuiltinBackends()));
//   for (auto& backend : session.backends) ...
//   for (auto& u : session.unusable) std::cerr << u.name << ": " << u.reason;
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "harness/backend.h"
#include "harness/error.h"
#include "harness/image.h"

namespace isobench::harness {

struct SessionOptions {
  std::string workdir = "/var/lib/isobench";
  // Backends by name. Empty or {"all"}: every registered backend that is usable here
  // (unusable ones are listed with their reason). A backend named explicitly that is
  // unusable is an error.
  std::vector<std::string> backends;
  std::string kernel;  // guest kernel override; empty: the host's newest
  std::string agent;   // agent binary override; empty: DefaultAgentPath()
  std::map<std::string, std::string> backend_options;  // "vm.uri", "vm.accel", ...
  std::vector<std::string> extra_binaries;             // copied into the image (fio)
  // Guest kernel modules a VM loads at boot: Debian's kernel builds virtio-pci and
  // virtio-blk as modules, and the I/O benchmarks need the disk.
  std::vector<std::string> vm_modules = {"virtio_pci", "virtio_blk"};
  bool reclaim_stale = true;  // remove what crashed runs left behind, first
  // A session with no usable backend is an error ("no usable backend"), unless the
  // caller judges the unusable ones itself (the conformance suite skips the absent).
  bool allow_no_backend = false;
};

struct Session {
  std::string run_id;
  GuestImage image;
  std::vector<std::string> image_modules;          // as asked for (names), to build variants
  std::vector<std::unique_ptr<Backend>> backends;  // usable, in the order asked
  // The registry the session was opened with (it outlives the session): families that
  // make a backend of their own (the I/O family's instance) make it from here.
  const BackendRegistry* registry = nullptr;
  struct Unusable {
    std::string name;
    std::string reason;
    bool absent = false;  // Availability::absent
  };
  std::vector<Unusable> unusable;
  // CaptureEnvironment() plus every backend's Describe() and "run.id".
  std::map<std::string, std::string> environment;
};

Result<Session> OpenSession(const SessionOptions& options, const BackendRegistry& registry);

// Splits "a,b,c" (empty items dropped).
std::vector<std::string> SplitList(const std::string& text);

}  // namespace isobench::harness
