// The one interface every isolation technology implements.
//
// A `Backend` (native `container`, `vm`, later `oci`, `docker`) turns an `InstanceSpec`
// into a running `Instance` whose agent has said it is ready. Benchmarks and probes are
// written once against these types and never name a backend.
//
//   ISO_ASSIGN_OR_RETURN(auto backend, registry.Make("container", context));
//   InstanceSpec spec;
//   spec.name = "startup-1";
//   spec.memory_bytes = 128 << 20;
//   ISO_ASSIGN_OR_RETURN(auto instance, backend->Create(spec));  // returns when ready
//   double ready_s = instance->startup().ready_seconds;          // host clock
//   ISO_ASSIGN_OR_RETURN(ExecResult r, instance->Exec({"/bin/uname", "-r"}, 5s));
//   ISO_RETURN_IF_ERROR(instance->Destroy());                    // also done by ~Instance
//
// Timing rule (DESIGN.md): every duration is taken on the host with CLOCK_MONOTONIC,
// from the moment Create() is entered to the moment the agent's ready line arrives.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "harness/error.h"
#include "harness/image.h"
#include "harness/known_deviation.h"

namespace isobench::harness {

using Clock = std::chrono::steady_clock;  // CLOCK_MONOTONIC on Linux.

inline double SecondsBetween(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

struct Volume {
  std::string host_path;   // must exist; must not contain ".." components
  std::string guest_path;  // absolute path inside the instance
  bool read_only = false;
};

// What an instance promises to isolate. Each switch can be turned off alone to build
// the weakened profiles the conformance suite uses to prove its probes can fail.
struct SecurityProfile {
  std::string name = "default";
  bool pid_ns = true;
  bool mount_ns = true;
  bool uts_ns = true;
  bool ipc_ns = true;
  bool net_ns = true;
  bool cgroup_ns = true;
  bool user_ns = false;
  bool time_ns = false;
  bool pivot_root = true;  // false: chroot only (old root stays reachable)
  bool read_only_root = false;
  bool mask_paths = true;         // /proc/kcore, /proc/keys, ... masked; /proc/sys, ... read-only
  bool minimal_dev = true;        // /dev: tmpfs with only null zero full random urandom tty ptmx
  bool read_only_sys = true;      // /sys and /sys/fs/cgroup mounted read-only
  bool drop_capabilities = true;  // false: keep every capability the host's bounding set has
  std::vector<std::string> capabilities;  // empty: Docker's default set ("CAP_CHOWN", ...)
  bool no_new_privs = true;
  bool seccomp = true;       // Docker-like default filter
  bool memory_limit = true;  // apply InstanceSpec::memory_bytes
  bool pids_limit = true;    // apply InstanceSpec::pids_limit
  bool cpu_limit = true;     // apply InstanceSpec::cpu_quota
  bool rlimits = true;       // default rlimits (nofile 1024:4096, ...)
  // Network "bridge": the host reachable only at the ports the harness opened, the other
  // instances not at all (harness/bridge_guard.h). No effect on network "none".
  bool network_guard = true;
};

struct InstanceSpec {
  std::string name;  // unique among live instances; see ValidateInstanceName
  int vcpus = 1;
  double cpu_quota = 0;                  // in CPUs (0.5 = half a core); 0: unlimited
  uint64_t memory_bytes = 256ull << 20;  // hard limit (container) / guest RAM (vm)
  int64_t pids_limit = 0;                // 0: unlimited
  // Proportional share of each disk's time against other instances, 10..1000 on the
  // blkio scale Docker and the OCI spec use (cgroup v1 blkio.bfq.weight, v2 io.bfq.weight
  // or io.weight, libvirt <blkiotune>); 0: the kernel's default. It takes effect only on a
  // device whose I/O scheduler divides by weight (BFQ; io.cost on cgroup v2): see
  // harness::IoSchedulerOf.
  uint32_t io_weight = 0;
  uint64_t disk_bytes = 0;  // scratch disk for I/O work; 0: none
  std::vector<Volume> volumes;
  std::string network = "none";  // "none": loopback only
  std::string hostname;          // empty: the instance name
  // Empty: the shared userland the backend was made with (BackendContext::image). Else
  // an image in the loopback registry (registry.h: "127.0.0.1:5147/isobench/guest:<hash>"),
  // which a backend whose traits say registry_images starts from, pulling it first into
  // its own image store when it is not there (the start then has a "pull" phase).
  std::string image;
  SecurityProfile profile;
};

// Names become directory names, cgroup names and libvirt domain names, so they are
// restricted to [A-Za-z0-9_.-], 1..48 characters, not starting with '.' or '-'.
Result<void> ValidateInstanceName(std::string_view name);
// 0 (unset) or 10..1000; anything else is an error naming the value.
Result<void> ValidateIoWeight(uint32_t weight);

// A phase boundary: `seconds` after the create request, on the host clock.
struct Phase {
  std::string name;
  double seconds = 0;
};

struct StartupTiming {
  double ready_seconds = 0;     // create request -> agent ready line on the host
  std::vector<Phase> phases;    // in order; the last is "ready"
  double host_cpu_seconds = 0;  // CPU the host spent starting it (runtime, monitor, qemu)
};

// What Backend::Pull did.
struct ImagePull {
  std::string reference;
  std::string digest;          // the manifest's, as the registry names it
  double seconds = 0;          // the whole pull, on the host clock
  int layers = 0;              // of the image; 0 where the backend does not tell
                               // (Docker's pull of an image already up to date)
  int layers_fetched = 0;      // fetched from the registry by this pull
  uint64_t fetched_bytes = 0;  // their compressed bytes, where the backend tells
  int layers_unpacked = 0;     // unpacked by this pull
  // Where the backend tells (the layer store): time spent fetching, verifying digests,
  // unpacking. Docker does all three inside one API call.
  std::optional<double> fetch_seconds, verify_seconds, unpack_seconds;
};

struct ExecResult {
  int exit_code = -1;  // 128+signal when killed by a signal
  std::string stdout_text;
  std::string stderr_text;
  bool truncated = false;
  bool timed_out = false;
};

struct ResourceUsage {
  uint64_t pss_bytes = 0;             // PSS of host processes that exist for this instance
  uint64_t rss_bytes = 0;             // RSS of the same processes (counts shared pages fully)
  uint64_t guest_memory_bytes = 0;    // VM guest RAM (accounted separately); 0 for containers
  uint64_t memory_current_bytes = 0;  // cgroup memory usage where known
  uint64_t memory_peak_bytes = 0;     // cgroup high-water mark where known
  // memory_current_bytes is the charge of the instance's own memory cgroup: user and
  // kernel memory (v1 memory.usage_in_bytes, v2 memory.current).
  bool memory_cgroup = false;
  // The kernel part of that charge (slab, stacks, page tables, sockets: v1
  // memory.kmem.usage_in_bytes, v2 memory.stat "kernel"), where the controller gives it.
  std::optional<uint64_t> kernel_memory_bytes;
  // Why memory_cgroup is false or kernel_memory_bytes unset; empty when both are known.
  std::string memory_missing;
  double cpu_seconds = 0;
  int64_t pids = 0;
  // Processes killed by the instance's own memory cgroup's OOM killer so far (v1
  // memory.oom_control, v2 memory.events); unset where the backend has no such cgroup to
  // read (a VM: its guest kernel kills inside it).
  std::optional<uint64_t> oom_kills;
};

// How an instance with network "bridge" is reached over its network, and how it
// reaches the host: the network benchmarks connect the two.
struct NetworkEndpoint {
  std::string address;       // the instance's IPv4 address
  std::string host_address;  // the host's address on that network (the bridge's)
  std::string link;          // the host side of it: veth host end, tap, bridge
};

class Instance {
 public:
  virtual ~Instance() = default;  // implementations destroy; never throws

  virtual const std::string& name() const = 0;
  virtual const StartupTiming& startup() const = 0;
  // Host pid representing the instance: its init (container) or qemu (vm).
  virtual pid_t host_pid() const = 0;

  // One JSON request to the agent; waits for the reply carrying the same id.
  virtual Result<nlohmann::json> Call(nlohmann::json request,
                                      std::chrono::milliseconds timeout) = 0;
  // Runs argv inside the instance through the agent.
  Result<ExecResult> Exec(const std::vector<std::string>& argv,
                          std::chrono::milliseconds timeout = std::chrono::seconds(30));

  virtual Result<ResourceUsage> Usage() = 0;
  // Set for an instance made with a network of its own ("bridge"); none for loopback.
  virtual std::optional<NetworkEndpoint> endpoint() const { return std::nullopt; }
  // Stops the instance and removes everything created for it. Idempotent.
  virtual Result<void> Destroy() = 0;
};

struct Availability {
  bool usable = false;
  std::string reason;  // why not; or, when usable, a note (e.g. "tcg: /dev/kvm is PVM")
  // Not usable because what it drives is not here: no runtime binary, no daemon
  // answering, no guest kernel. False for one that is here and broken (its trial
  // container failed, its image could not be built): the conformance suite skips an
  // absent backend that was not required, and fails a broken one.
  bool absent = false;
};

// What shared code and the report may know about a backend, instead of its name.
// Each backend module defines its record once and hands the same record to the
// registry (so a caller can decide before making the backend: target lists, whether
// the image needs a guest kernel) and returns it from Backend::traits() (for rows that
// never pass through a registry, such as the host floor). It is a virtual function, not
// a field, because Backend has no constructor of its own; backend_traits_test checks
// that both say the same. Results carry it as backend.<name>.kind / .role / .reference.
//
//   if (backend.traits().kind == BackendTraits::Kind::kVm) ...;   // a scratch disk is /dev/vda
//   if (registry.Traits("vm")->boots_guest_kernel) image_options.want_vm = true;
struct BackendTraits {
  enum class Kind {
    kHost,       // the agent as a plain host process: no isolation
    kContainer,  // processes on the host kernel, isolated by namespaces and cgroups
    kVm,         // a guest kernel on a hypervisor
  };
  enum class Role {
    kProduct,    // an isolation technology under test
    kReference,  // one too, but shown as the yardstick of another (runc for the native runtime)
    kFloor,      // no isolation technology: the host floor, qemu without libvirt; measured
                 // serially as a reference only (no ratio rows or parallel starts of its own)
  };
  Kind kind = Kind::kContainer;
  Role role = Role::kProduct;
  bool boots_guest_kernel = false;  // the image must carry a guest kernel (and modules)
  bool supports_volumes = true;     // InstanceSpec::volumes is honoured (else EOPNOTSUPP)
  // InstanceSpec::network "bridge" is honoured: the instance gets an address on a
  // network it shares with the host, given by Instance::endpoint().
  bool bridge_network = false;
  // An external OCI runtime: it refuses a container without a mount namespace.
  bool oci_runtime = false;
  // Honours every SecurityProfile switch, user_ns and read_only_root included: the
  // conformance suite also runs it under its "hardened" profile.
  bool hardened_profile = false;
  // Has a profile "<name>-default": the runtime's own default spec, unmodified, saved
  // at Describe()["<name>.default_spec"]; the conformance suite grades it too.
  bool runtime_default_profile = false;
  // One start takes seconds (a guest kernel boots: ~10 s under TCG), not milliseconds
  // (host ~1 ms, runc ~50 ms, docker ~0.4 s): benchmarks give such a row fewer rounds
  // ("vm_" settings of the suite) and a coarser unit, soak a warm-up cycle.
  bool slow_start = false;
  // Honours InstanceSpec::image and Backend::Pull (registry.h): starts from images
  // pulled from the loopback registry.
  bool registry_images = false;

  // Drawn as a reference in reports (hatched, after the products).
  bool reference() const { return role != Role::kProduct; }
  bool operator==(const BackendTraits&) const = default;
};

// "host", "container", "vm"; "product", "reference", "floor": the words results carry.
std::string_view KindName(BackendTraits::Kind kind);
std::string_view RoleName(BackendTraits::Role role);

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  virtual BackendTraits traits() const = 0;
  virtual Availability Probe() = 0;
  // Facts to label results with ("vm.accelerator": "tcg", versions, kernel, ...).
  virtual std::map<std::string, std::string> Describe() = 0;
  // Creates and starts an instance; returns once its agent is ready.
  virtual Result<std::unique_ptr<Instance>> Create(const InstanceSpec& spec) = 0;
  // Removes what a crashed earlier run left behind, found by label. Returns how many
  // objects were reclaimed. Touches nothing this project did not create.
  virtual Result<int> ReclaimStale() = 0;
  // Makes ahead of time, outside any start, what the next `starts` Create() calls can
  // take from a pool the backend keeps (the native container's network namespaces,
  // container.netns_pool). Returns how many starts the pool now covers: 0 for a backend
  // without one. Benchmarks call it before a measured start so that the pool's refill
  // is never part of one.
  virtual Result<int> Prewarm(int starts) {
    (void)starts;
    return 0;
  }
  // Fetches `reference` (an image in the loopback registry) into the backend's own image
  // store, so that an instance naming it starts without fetching; a warm pull (every
  // layer present) still asks the registry for the manifest. EOPNOTSUPP from a backend
  // whose traits().registry_images is false.
  virtual Result<ImagePull> Pull(const std::string& reference);
  // Removes from the backend's image store every registry image and layer no live
  // instance uses, so that the next Pull is cold. Returns how many went.
  virtual Result<int> EvictImages();
  // The directories holding the unpacked layers of `reference`, pulled by this backend
  // (the layer store's, Docker's overlay2 diff directories): what the Image family
  // measures disk and page-cache sharing on. EOPNOTSUPP as Pull.
  virtual Result<std::vector<std::string>> ImageLayerDirs(const std::string& reference);
};

// What a backend gets from the harness.
struct BackendContext {
  std::string workdir = "/var/lib/isobench";   // state root
  GuestImage image;                            // the shared userland
  std::string run_id;                          // labels everything this run creates
  std::map<std::string, std::string> options;  // backend-specific ("vm.uri", "vm.accel", ...)
};

using BackendFactory =
    std::function<Result<std::unique_ptr<Backend>>(const BackendContext& context)>;

class BackendRegistry {
 public:
  // `traits` must be what the backend's traits() returns; `deviations` are the
  // conformance probes the runtime it drives is known to fail (known_deviation.h).
  void Register(std::string name, std::string description, BackendTraits traits,
                BackendFactory factory, std::vector<KnownDeviation> deviations = {});
  std::vector<std::string> Names() const;
  bool Has(std::string_view name) const;
  const std::string& Description(std::string_view name) const;
  // The registered traits; nullptr for an unknown name.
  const BackendTraits* Traits(std::string_view name) const;
  // The registered deviations; empty for an unknown name.
  const std::vector<KnownDeviation>& KnownDeviations(std::string_view name) const;
  // Unknown names give an error listing the known ones.
  Result<std::unique_ptr<Backend>> Make(std::string_view name, const BackendContext& context) const;

 private:
  struct Entry {
    std::string name;
    std::string description;
    BackendTraits traits;
    BackendFactory factory;
    std::vector<KnownDeviation> deviations;
  };
  std::vector<Entry> entries_;
};

// A fresh run id: "<utc yyyymmddThhmmss>-<pid>".
std::string NewRunId();

}  // namespace isobench::harness
