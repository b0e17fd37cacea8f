#include "vm/vm_backend.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <regex>
#include <set>
#include <thread>

#include "harness/bridge.h"
#include "harness/bridge_guard.h"
#include "harness/fd.h"
#include "harness/image.h"
#include "harness/log.h"
#include "harness/procfs.h"
#include "harness/pulled_images.h"
#include "vm/accelerator.h"
#include "vm/connection.h"
#include "vm/domain.h"
#include "vm/domain_xml.h"
#include "vm/guest_files.h"
#include "vm/guest_from_spec.h"
#include "vm/guest_session.h"
#include "vm/guest_shared.h"
#include "vm/qemu_process.h"
#include "vm/unix_socket.h"
#include "vm/vm_options.h"

namespace isobench::vm {

using harness::BackendContext;
using harness::Clock;
using harness::Error;
using harness::Instance;
using harness::InstanceSpec;
using harness::Result;

namespace {

constexpr auto kConnectTimeout = std::chrono::seconds(10);
constexpr const char* kProbeInstanceName = "kvm-probe";

// Logs each distinct message once per process ("say so once in the log").
void LogOnce(const std::string& message) {
  static std::mutex mu;
  static std::set<std::string> logged;
  std::lock_guard<std::mutex> lock(mu);
  if (logged.insert(message).second) ISO_LOG(kInfo) << message;
}

// Who reaps a local libvirtd's qemu processes: libvirt daemonizes qemu, so an exited
// qemu is reaped by libvirtd's nearest subreaper ancestor, or by PID 1. libvirt's destroy
// polls kill(pid, 0) every 200 ms until the pid is gone, so an init that reaps orphans
// late (seconds, on some sandboxes) is paid by every destroy. Reported as
// "comm (pid N)" of libvirtd's parent, or why it is unknown.
std::string LibvirtdParent(const std::string& uri) {
  if (uri != kDefaultLibvirtUri) return "unknown: not " + std::string(kDefaultLibvirtUri);
  const std::pair<const char*, const char*> daemons[] = {{"/run/libvirtd.pid", "libvirtd"},
                                                         {"/run/virtqemud.pid", "virtqemud"}};
  for (auto [pidfile, comm] : daemons) {
    auto text = harness::ReadFile(pidfile);
    if (!text.ok()) continue;
    pid_t pid = static_cast<pid_t>(std::atol(text->c_str()));
    if (pid <= 0) continue;
    auto daemon = harness::ReadProcStat(pid);
    if (!daemon.ok() || daemon->comm != comm) continue;  // a stale file, its pid reused
    auto parent = harness::ReadProcStat(daemon->ppid);
    if (!parent.ok()) return "unknown: " + parent.error().message();
    return parent->comm + " (pid " + std::to_string(parent->pid) + ")";
  }
  return "unknown: no live daemon in /run/libvirtd.pid or /run/virtqemud.pid";
}

// A guest booted from a registry image (InstanceSpec::image): the pulled layers, held for
// the instance's life, packed as its initramfs; the phases that took (from the start).
struct PulledBoot {
  std::shared_ptr<const harness::PulledImage> image;
  std::string initrd;
  std::vector<harness::Phase> phases;
};

// State shared by a backend and every instance it created (instances may outlive it).
struct Shared : GuestShared {
  std::shared_ptr<LibvirtConnection> conn;  // guarded by mu
  std::atomic<bool> used_bridge{false};     // an instance had network "bridge"

  Result<std::shared_ptr<LibvirtConnection>> Connection() {
    std::lock_guard<std::mutex> lock(mu);
    if (conn && conn->IsAlive()) return conn;
    ISO_ASSIGN_OR_RETURN(LibvirtConnection opened, LibvirtConnection::Open(options.uri));
    conn = std::make_shared<LibvirtConnection>(std::move(opened));
    return conn;
  }
};

class VmInstance final : public Instance {
 public:
  VmInstance(std::shared_ptr<Shared> shared, std::string name, uint64_t guest_memory)
      : shared_(std::move(shared)), name_(std::move(name)), guest_memory_(guest_memory) {}
  ~VmInstance() override {
    auto r = Destroy();
    if (!r.ok()) ISO_LOG(kWarning) << "vm " << name_ << ": " << r.error().message();
  }

  const std::string& name() const override { return name_; }
  const harness::StartupTiming& startup() const override { return timing_; }
  pid_t host_pid() const override { return qemu_pid_; }

  Result<nlohmann::json> Call(nlohmann::json request, std::chrono::milliseconds timeout) override {
    if (!session_) return Error("vm " + name_ + ": not running", ENOTCONN);
    return session_->Call(std::move(request), timeout).Context("vm " + name_);
  }

  Result<harness::ResourceUsage> Usage() override {
    if (destroyed_ || !session_) return Error("vm " + name_ + ": not running", ESRCH);
    if (qemu_pid_ <= 0) return Error("vm " + name_ + ": qemu process unknown", ESRCH);
    harness::ResourceUsage usage;
    ISO_ASSIGN_OR_RETURN(usage.pss_bytes, harness::ProcessPssBytes(qemu_pid_));
    ISO_ASSIGN_OR_RETURN(usage.cpu_seconds, harness::ProcessCpuSeconds(qemu_pid_));
    usage.guest_memory_bytes = guest_memory_;
    usage.pids = 1;  // one host process: qemu (its threads are not separate instances)
    usage.memory_missing = "libvirt's machine cgroup is not read; the guest's RAM is guest memory";
    return usage;
  }

  Result<void> Destroy() override;
  std::optional<harness::NetworkEndpoint> endpoint() const override { return endpoint_; }

  // Where libvirt logged this domain's qemu, if it is a local system domain that got
  // created; empty otherwise.
  std::string QemuLogPath() const {
    if (!domain_created_ || !LogsLocally()) return "";
    return std::string(kLibvirtQemuLogDir) + "/" + domain_name_ + ".log";
  }

  // Boots the guest; every step leaves the instance in a state Destroy() can undo.
  Result<void> Launch(const InstanceSpec& spec, Clock::time_point start, Accelerator accel,
                      PulledBoot boot);

 private:
  std::shared_ptr<Shared> shared_;
  std::string name_;
  uint64_t guest_memory_ = 0;
  std::string domain_name_;
  bool reserved_ = false;
  std::shared_ptr<const harness::PulledImage> image_;  // a registry image's layers, held
  bool owns_files_ = false;
  std::string console_socket_, channel_socket_, disk_path_;

  std::shared_ptr<LibvirtConnection> conn_;
  Domain domain_;
  std::unique_ptr<GuestSession> session_;
  pid_t qemu_pid_ = 0;
  harness::StartupTiming timing_;
  bool ready_ = false;  // the agent answered: a graceful power-off can be asked for

  bool domain_created_ = false;
  std::optional<harness::NetworkEndpoint> endpoint_;  // network "bridge"
  std::string exempt_address_;  // exempted from the bridge's guard (network_guard off)

  std::mutex destroy_mu_;
  bool destroyed_ = false;

  bool LogsLocally() const { return shared_->options.uri == kDefaultLibvirtUri; }
};

Result<void> VmInstance::Launch(const InstanceSpec& spec, Clock::time_point start,
                                Accelerator accel, PulledBoot boot) {
  const VmOptions& o = shared_->options;
  const BackendContext& c = shared_->context;
  ISO_RETURN_IF_ERROR(harness::ValidateInstanceName(spec.name));
  // Everything the guest needs is checked before anything is created.
  ISO_ASSIGN_OR_RETURN(
      GuestConfig guest,
      GuestFromSpec(
          spec, o, c, DomainName(c.run_id, spec.name), accel,
          {.dir = shared_->RunSocketDir(), .disk_dir = shared_->RunDiskDir(), .tag = "."}));
  ISO_RETURN_IF_ERROR(CheckGuestImage(c.image));
  if (!boot.initrd.empty()) {
    guest.initrd = boot.initrd;
    image_ = std::move(boot.image);
  }
  if (spec.network == "bridge") {
    // A tap named for its address on the host's bridge; the agent gives eth0 the address.
    ISO_ASSIGN_OR_RETURN(harness::BridgeSlot slot, harness::PlanBridgeSlot(harness::kTapPrefix));
    ISO_RETURN_IF_ERROR(harness::EnsureBridge().Context("vm: the host's bridge"));
    shared_->used_bridge = true;
    guest.network->target_dev = slot.link_name;
    guest.cmdline += " isobench.ip=" + slot.address + "/" +
                     std::to_string(harness::CurrentBridgeSubnet().prefix);
    endpoint_ = harness::NetworkEndpoint{slot.address, harness::CurrentBridgeSubnet().host_address,
                                         slot.link_name};
  }

  ISO_ASSIGN_OR_RETURN(conn_, shared_->Connection());

  domain_name_ = guest.name;
  if (!shared_->Reserve(domain_name_))
    return Error("instance `" + spec.name + "` already exists in run " + c.run_id, EEXIST);
  reserved_ = true;
  {
    auto existing = Domain::Lookup(*conn_, domain_name_);
    if (existing.ok()) {
      virDomainFree(existing->Release());  // not ours to stop
      return Error("libvirt domain `" + domain_name_ + "` already exists at " + o.uri +
                       " (another harness with the same run id, or a leftover: isobench "
                       "reclaims leftovers of finished runs at start-up)",
                   EEXIST);
    }
    if (existing.error().errno_value() != ENOENT) return std::move(existing).error();
  }

  ISO_ASSIGN_OR_RETURN(std::string xml, BuildDomainXml(guest));

  // From here on the files are ours: no domain of this name exists, so any socket at
  // these paths is a leftover.
  owns_files_ = true;
  console_socket_ = guest.console_socket;
  channel_socket_ = guest.channel_socket;
  ISO_RETURN_IF_ERROR(shared_->dirs->sockets().Ensure());
  ISO_RETURN_IF_ERROR(RemoveFileIfExists(console_socket_));
  ISO_RETURN_IF_ERROR(RemoveFileIfExists(channel_socket_));
  if (guest.disk) {
    disk_path_ = guest.disk->path;
    ISO_RETURN_IF_ERROR(shared_->dirs->disks().Ensure());
    ISO_ASSIGN_OR_RETURN(harness::Fd fd,
                         harness::Open(disk_path_, O_RDWR | O_CREAT | O_TRUNC, 0644));
    if (::ftruncate(fd.get(), static_cast<off_t>(spec.disk_bytes)) < 0)
      return Error::Errno("ftruncate", disk_path_);
  }

  auto created = Domain::CreateTransient(*conn_, xml);
  if (!created.ok()) {
    Error error = std::move(created).error();
    if (o.cpu_readback == CpuReadback::kFeatureWords &&
        error.message().find(kPerFeatureReadbackCapability) != std::string::npos)
      return std::move(error).Context("this libvirt does not accept deleting the capability " +
                                      std::string(kPerFeatureReadbackCapability) +
                                      "; set vm.cpu_readback=features");
    return error;
  }
  domain_ = std::move(*created);
  auto created_at = Clock::now();
  domain_created_ = true;
  if (endpoint_) {
    // libvirt put the tap on the bridge; the guest's firmware is still starting.
    if (!spec.profile.network_guard) exempt_address_ = endpoint_->address;
    ISO_RETURN_IF_ERROR(harness::GuardInstancePort(harness::kBridgeName, endpoint_->link,
                                                   endpoint_->address, spec.profile.network_guard)
                            .Context("vm: the tap's guard"));
  }

  // Connect first: qemu drops what the guest writes to a serial port nobody listens on.
  auto deadline = start + o.ready_timeout;
  ISO_ASSIGN_OR_RETURN(session_,
                       GuestSession::Connect(console_socket_, channel_socket_,
                                             std::min(deadline, Clock::now() + kConnectTimeout)));
  auto pid = FindQemuPid(domain_name_);
  if (pid.ok())
    qemu_pid_ = *pid;
  else
    ISO_LOG(kDebug) << "vm " << name_ << ": " << pid.error().message();
  auto ready = session_->WaitReady(deadline, [this]() -> Result<void> {
    if (session_->console().closed() || !domain_.IsActive())
      return Error("the domain stopped", ECHILD);
    return {};
  });
  if (!ready.ok()) {
    Error error = std::move(ready).error();
    if (error.errno_value() == ETIMEDOUT) return ReadyTimeoutError(o.ready_timeout, error);
    // The channel's EOF can arrive before libvirt has noticed qemu's exit; give it a
    // moment so a dead guest is reported as one, with the console's last words (a
    // panic) read to the end.
    if (error.errno_value() == ECHILD || domain_.WaitInactive(std::chrono::seconds(3))) {
      for (int i = 0; i < 100 && !session_->console().closed(); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      return Error("domain `" + domain_name_ +
                       "` stopped before its agent was ready (powered off, rebooted or "
                       "panicked; <on_reboot>destroy)" +
                       session_->ConsoleTailForError(),
                   ECHILD);
    }
    return error;
  }
  ready_ = true;
  boot.phases.push_back({"domain_created", harness::SecondsBetween(start, created_at)});
  timing_ = session_->Timing(start, std::move(boot.phases));
  if (qemu_pid_ > 0) {
    auto cpu = harness::ProcessCpuSeconds(qemu_pid_);
    if (cpu.ok()) timing_.host_cpu_seconds = *cpu;
  }
  if (endpoint_) {
    // Without its driver the guest boots fine and has no network: say so now, not as a
    // peer that never answers.
    ISO_ASSIGN_OR_RETURN(nlohmann::json info, session_->Call({{"op", "info"}}, kConnectTimeout));
    auto interfaces = info.value("interfaces", nlohmann::json::array());
    if (std::find(interfaces.begin(), interfaces.end(), "eth0") == interfaces.end())
      return Error("network \"bridge\": the guest has no eth0 (interfaces " + interfaces.dump() +
                       "); a kernel with modules needs virtio_net among the image's modules",
                   ENODEV);
  }
  return {};
}

Result<void> VmInstance::Destroy() {
  std::lock_guard<std::mutex> lock(destroy_mu_);
  if (destroyed_) return {};
  Result<void> result;
  if (domain_.valid()) {
    auto graceful = shared_->options.shutdown_timeout;
    if (session_ && ready_ && graceful.count() > 0 && domain_.IsActive()) {
      // The agent syncs and calls reboot(RB_POWER_OFF); with <acpi/> qemu then exits and
      // <on_poweroff>destroy</on_poweroff> ends the domain.
      auto asked = session_->RequestShutdown(
          std::min<std::chrono::milliseconds>(graceful, std::chrono::seconds(2)));
      if (asked.ok()) {
        if (!domain_.WaitInactive(graceful))
          ISO_LOG(kDebug) << "vm " << name_ << ": no power-off within " << graceful.count()
                          << " ms; destroying";
      } else {
        ISO_LOG(kDebug) << "vm " << name_ << ": shutdown request: " << asked.error().message();
      }
    }
    auto r = domain_.Destroy();
    if (!r.ok()) result = std::move(r).Context("vm " + name_);
  }
  if (session_) session_->Close();
  if (qemu_pid_ > 0 && result.ok()) {
    // virDomainDestroy returns after qemu was reaped by libvirtd; a short grace for the
    // asynchronous power-off path.
    auto until = Clock::now() + std::chrono::seconds(5);
    while (ProcessAlive(qemu_pid_) && IsQemuOf(qemu_pid_, domain_name_) && Clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (ProcessAlive(qemu_pid_) && IsQemuOf(qemu_pid_, domain_name_))
      result = Error("vm " + name_ + ": qemu pid " + std::to_string(qemu_pid_) +
                         " still runs after the domain was destroyed",
                     EBUSY);
  }
  if (owns_files_ && result.ok()) {
    for (const std::string* path : {&console_socket_, &channel_socket_, &disk_path_}) {
      if (path->empty()) continue;
      auto r = RemoveFileIfExists(*path);
      if (!r.ok() && result.ok()) result = std::move(r);
    }
    // The run directories go with the last instance (GuestRunDirs).
  }
  if (!exempt_address_.empty() && result.ok()) {
    auto r = harness::UnexemptFromGuard(harness::kBridgeName, exempt_address_);
    if (r.ok())
      exempt_address_.clear();
    else
      result = std::move(r);
  }
  if (!result.ok()) return result;
  // libvirt keeps a log per domain forever; a guest that booted and stopped cleanly
  // leaves nothing worth keeping. A failed launch keeps it for the post-mortem (its path
  // is in the error) until the next run's ReclaimStale.
  if (ready_ && LogsLocally()) {
    auto removed = RemoveDomainLogs(domain_name_);
    if (!removed.ok()) ISO_LOG(kWarning) << "vm " << name_ << ": " << removed.error().message();
  }
  if (reserved_) shared_->Unreserve(domain_name_);
  reserved_ = false;
  session_.reset();
  image_.reset();  // qemu read the initramfs at boot: the layers may be evicted now
  destroyed_ = true;
  return {};
}

Result<std::unique_ptr<VmInstance>> LaunchInstance(const std::shared_ptr<Shared>& shared,
                                                   const InstanceSpec& spec,
                                                   Clock::time_point start, Accelerator accel,
                                                   PulledBoot boot = {}) {
  auto instance = std::make_unique<VmInstance>(shared, spec.name, spec.memory_bytes);
  auto launched = instance->Launch(spec, start, accel, std::move(boot));
  if (!launched.ok()) {
    Error error = std::move(launched).error();
    error.Context("vm `" + spec.name + "`");
    if (std::string log = instance->QemuLogPath(); !log.empty())
      error =
          Error(error.message() + "\n--- libvirt's qemu log (kept): " + log, error.errno_value());
    auto cleaned = instance->Destroy();
    if (!cleaned.ok())
      error =
          Error(error.message() + " (and cleaning up failed: " + cleaned.error().message() + ")",
                error.errno_value());
    return error;
  }
  return instance;
}

class VmBackend final : public harness::Backend {
 public:
  explicit VmBackend(std::shared_ptr<Shared> shared)
      : shared_(std::move(shared)), images_(shared_->context.workdir + "/layers/" + name()) {}
  ~VmBackend() override {
    // The taps went with their domains; the bridge goes when no other port is left.
    if (shared_->used_bridge) {
      auto removed = harness::RemoveIdleBridge();
      if (!removed.ok()) ISO_LOG(kWarning) << "vm: " << removed.error().message();
    }
  }

  std::string name() const override { return "vm" + shared_->options.row_suffix; }
  harness::BackendTraits traits() const override { return VmTraits(); }

  harness::Availability Probe() override {
    auto conn = shared_->Connection();
    if (!conn.ok()) return {false, conn.error().message(), /*absent=*/true};
    if (auto r = CheckGuestImage(shared_->context.image); !r.ok())
      return {false, r.error().message()};
    auto accel = Accel();
    if (!accel.ok()) return {false, accel.error().message()};
    return {true, accel->reason};
  }

  std::map<std::string, std::string> Describe() override {
    std::map<std::string, std::string> facts;
    facts["vm.uri"] = shared_->options.uri;
    facts["vm.machine"] = std::string(MachineTypeName(shared_->options.machine));
    CpuReadback readback = shared_->options.cpu_readback;
    facts["vm.cpu_readback"] =
        std::string(CpuReadbackName(readback)) +
        (readback == CpuReadback::kFeatureWords
             ? ": the domain XML deletes libvirt's capability " +
                   std::string(kPerFeatureReadbackCapability) +
                   ", so libvirt reads the guest CPU back as CPUID feature words (2 QMP round "
                   "trips; libvirt marks the domain tainted: custom-hypervisor-feature)"
             : ": libvirt's own read-back of the guest CPU, one qom-get per CPU property");
    if (auto accel = Accel(); accel.ok()) {
      facts["vm.accelerator"] = std::string(AcceleratorName(accel->accelerator));
      facts["vm.accelerator_reason"] = accel->reason;
      facts["vm.nested"] = accel->nested;
    } else {
      facts["vm.accelerator"] = "unknown";
      facts["vm.nested"] = "unknown";
      facts["vm.accelerator_reason"] = accel.error().message();
    }
    if (auto conn = shared_->Connection(); conn.ok()) {
      if (auto v = (*conn)->LibvirtVersion(); v.ok()) facts["vm.libvirt_version"] = *v;
      if (auto v = (*conn)->HypervisorVersion(); v.ok()) facts["vm.qemu_version"] = *v;
      if (auto v = (*conn)->DriverType(); v.ok()) facts["vm.driver"] = *v;
    }
    facts["vm.libvirtd_parent"] = LibvirtdParent(shared_->options.uri);
    facts["vm.guest_kernel_release"] = shared_->context.image.kernel_release;
    struct utsname u;
    if (::uname(&u) == 0) facts["vm.host_kernel_release"] = u.release;
    facts["vm.kernel_cmdline"] = DefaultKernelCmdline(shared_->options.cmdline_extra);
    return facts;
  }

  Result<std::unique_ptr<Instance>> Create(const InstanceSpec& spec) override {
    // Detection first: with a vendor module loaded it boots a probe guest, which is no
    // part of this instance's startup (the first boot under KVM counted it).
    ISO_ASSIGN_OR_RETURN(AcceleratorChoice accel, Accel());
    auto start = Clock::now();
    PulledBoot boot;
    if (!spec.image.empty()) {
      // A registry image: its layers pulled into this backend's store (when they are not
      // there) and packed as the guest's initramfs (once per image).
      const std::string where = "vm `" + spec.name + "`: image `" + spec.image + "`";
      auto pulled = images_.Get(spec.image);
      if (!pulled.ok()) return std::move(pulled).error().Context(where);
      boot.image = *pulled;
      boot.phases.push_back({"pull", harness::SecondsBetween(start, Clock::now())});
      auto initrd = InitramfsOf(*boot.image);
      if (!initrd.ok()) return std::move(initrd).error().Context(where);
      boot.initrd = *initrd;
      boot.phases.push_back({"initramfs", harness::SecondsBetween(start, Clock::now())});
    }
    ISO_ASSIGN_OR_RETURN(auto instance,
                         LaunchInstance(shared_, spec, start, accel.accelerator, std::move(boot)));
    return std::unique_ptr<Instance>(std::move(instance));
  }

  // A VM's image is ready to boot once its initramfs is packed: that is part of its
  // unpack, so a pull packs it (once per image), and a start after a pull boots at once.
  Result<harness::ImagePull> Pull(const std::string& reference) override {
    harness::ImagePull pull;
    ISO_ASSIGN_OR_RETURN(auto image, images_.Get(reference, &pull));
    auto t0 = Clock::now();
    ISO_RETURN_IF_ERROR(InitramfsOf(*image).Context("image `" + reference + "`"));
    double packed = harness::SecondsBetween(t0, Clock::now());
    pull.seconds += packed;
    pull.unpack_seconds = pull.unpack_seconds.value_or(0) + packed;
    return pull;
  }
  Result<std::vector<std::string>> ImageLayerDirs(const std::string& reference) override {
    return images_.LayerDirs(reference);
  }
  Result<int> EvictImages() override {
    ISO_ASSIGN_OR_RETURN(int evicted, images_.Evict());
    std::lock_guard<std::mutex> lock(initramfs_mu_);
    ISO_RETURN_IF_ERROR(harness::RemoveTree(InitramfsDir()));
    return evicted;
  }

  Result<int> ReclaimStale() override;

 private:
  Result<AcceleratorChoice> Accel();
  // <workdir>/layers/<backend>.initramfs: the initramfs of each pulled image, by its
  // manifest digest; emptied with the store.
  std::string InitramfsDir() const {
    return shared_->context.workdir + "/layers/" + name() + ".initramfs";
  }
  Result<std::string> InitramfsOf(const harness::PulledImage& image);

  std::shared_ptr<Shared> shared_;
  harness::PulledImages images_;
  std::mutex initramfs_mu_;
  std::mutex accel_mu_;  // one detection at a time (it may boot a probe guest)
};

Result<AcceleratorChoice> VmBackend::Accel() {
  std::lock_guard<std::mutex> detect(accel_mu_);
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    if (shared_->accel) return *shared_->accel;
  }
  auto probe = [this](std::chrono::milliseconds timeout) -> Result<double> {
    InstanceSpec spec;
    spec.name = kProbeInstanceName;
    spec.memory_bytes = 256ull << 20;
    auto shared = shared_->ProbeState<Shared>(timeout);
    ISO_ASSIGN_OR_RETURN(shared->conn, shared_->Connection());
    auto instance = LaunchInstance(shared, spec, Clock::now(), Accelerator::kKvm);
    if (!instance.ok()) {
      // The first line says why; the console tail would drown the log.
      std::string message = instance.error().message();
      return Error(message.substr(0, message.find('\n')), instance.error().errno_value());
    }
    double ready = (*instance)->startup().ready_seconds;
    ISO_RETURN_IF_ERROR((*instance)->Destroy());
    return ready;
  };
  KvmFacts facts = ReadKvmFacts();
  ISO_ASSIGN_OR_RETURN(AcceleratorChoice choice,
                       ChooseAccelerator(shared_->options.accel, facts, probe,
                                         shared_->options.kvm_probe_timeout.value_or(
                                             DefaultKvmProbeTimeout(facts))));
  LogOnce("vm: accelerator " + choice.reason);
  std::lock_guard<std::mutex> lock(shared_->mu);
  shared_->accel = choice;
  return choice;
}

Result<std::string> VmBackend::InitramfsOf(const harness::PulledImage& image) {
  std::string digest = image.manifest_digest;
  if (!digest.starts_with("sha256:") || digest.size() != 7 + 64 ||
      digest.find_first_not_of("0123456789abcdef", 7) != std::string::npos)
    return Error("manifest digest `" + digest + "` is not sha256:<64 hex>", EINVAL);
  std::string path = InitramfsDir() + "/" + digest.substr(7) + ".cpio";
  std::lock_guard<std::mutex> lock(initramfs_mu_);
  if (::access(path.c_str(), R_OK) == 0) return path;
  // The agent loads the kernel modules /etc/isobench/modules lists, built for one kernel:
  // an image whose list is not this VM's was made for another guest kernel.
  auto modules_of = [](const std::vector<std::string>& trees) -> Result<std::string> {
    for (const std::string& tree : trees) {
      auto list = harness::ReadFile(tree + "/etc/isobench/modules");
      if (list.ok() || list.error().errno_value() != ENOENT) return list;
    }
    return std::string();
  };
  const harness::GuestImage& own = shared_->context.image;
  ISO_ASSIGN_OR_RETURN(std::string wanted, modules_of({own.rootfs}));
  ISO_ASSIGN_OR_RETURN(std::string carried, modules_of(image.lowers));
  if (carried != wanted)
    return Error(
        "its kernel modules (/etc/isobench/modules) are not those of this VM's guest "
        "kernel " +
            own.kernel_release + ": the image was made for another kernel",
        EINVAL);
  ISO_RETURN_IF_ERROR(harness::MakeDirs(InitramfsDir(), 0755));
  std::string tmp = path + ".tmp";
  auto written = harness::WriteInitramfs(image.lowers, tmp);
  if (written.ok() && ::chmod(tmp.c_str(), 0644) < 0) written = Error::Errno("chmod", tmp);
  if (written.ok() && ::rename(tmp.c_str(), path.c_str()) < 0)
    written = Error::Errno("rename", tmp);
  if (!written.ok()) {
    ::unlink(tmp.c_str());
    return std::move(written).error();
  }
  return path;
}

// "isobench-<yyyymmddThhmmss>-<pid>-<name>.log[.N]" -> the run id, or "".
std::string RunIdOfLog(const std::string& file) {
  static const std::regex kLog("^isobench-([0-9]{8}T[0-9]{6}-[0-9]+)-.+\\.log(\\.[0-9]+)?$");
  std::smatch m;
  if (!std::regex_match(file, m, kLog)) return "";
  return m[1].str();
}

Result<int> RemoveStaleDomainLogs(const std::string& live_run_id) {
  auto names = harness::ListDir(kLibvirtQemuLogDir);
  if (!names.ok()) return names.error().errno_value() == ENOENT ? Result<int>(0) : names.error();
  std::vector<std::string> stale;
  for (const std::string& name : *names) {
    std::string run = RunIdOfLog(name);
    if (run.empty() || run == live_run_id || RunOwnerAlive(run)) continue;
    stale.push_back(std::string(kLibvirtQemuLogDir) + "/" + name);
  }
  for (const std::string& path : stale)
    if (::unlink(path.c_str()) < 0 && errno != ENOENT) return Error::Errno("unlink", path);
  return static_cast<int>(stale.size());
}

Result<int> VmBackend::ReclaimStale() {
  ISO_ASSIGN_OR_RETURN(auto conn, shared_->Connection());
  const std::string& run_id = shared_->context.run_id;
  int reclaimed = 0;
  ISO_ASSIGN_OR_RETURN(std::vector<std::string> names, conn->ListAllDomainNames());
  Result<void> first_error;
  for (const std::string& name : names) {
    if (name.rfind(kDomainNamePrefix, 0) != 0) continue;
    auto domain = Domain::Lookup(*conn, name);
    if (!domain.ok()) continue;  // went away meanwhile
    auto metadata = domain->Metadata();
    if (!metadata.ok() || !metadata->has_value() || (*metadata)->run_id == run_id ||
        RunOwnerAlive((*metadata)->run_id)) {
      virDomainFree(domain->Release());  // not ours, or still in use: leave it running
      continue;
    }
    ISO_LOG(kInfo) << "vm: reclaiming domain " << name << " of finished run "
                   << (*metadata)->run_id;
    auto destroyed = domain->Destroy();
    if (destroyed.ok()) {
      ++reclaimed;
    } else {
      virDomainFree(domain->Release());
      if (first_error.ok()) first_error = std::move(destroyed).error();
    }
  }
  // Socket and disk directories are named by run id; remove those of finished runs.
  for (const std::string& root : {shared_->options.socket_dir, shared_->context.workdir + "/vm"}) {
    auto removed = RemoveStaleRunDirs(root, run_id);
    if (removed.ok()) {
      reclaimed += *removed;
    } else if (first_error.ok()) {
      first_error = std::move(removed).error();
    }
  }
  if (shared_->options.uri == kDefaultLibvirtUri) {
    // Logs of failed launches of finished runs (successful ones are removed on Destroy).
    auto removed = RemoveStaleDomainLogs(run_id);
    if (removed.ok()) {
      reclaimed += *removed;
    } else if (first_error.ok()) {
      first_error = std::move(removed).error();
    }
  }
  if (!first_error.ok()) return std::move(first_error).error();
  return reclaimed;
}

}  // namespace

harness::BackendTraits VmTraits() {
  harness::BackendTraits t;
  t.kind = harness::BackendTraits::Kind::kVm;
  t.boots_guest_kernel = true;
  t.supports_volumes = false;  // no shared file system in the guest (Create refuses them)
  t.slow_start = true;
  t.bridge_network = true;  // virtio-net on a tap in the host's bridge
  // A registry image's layers, pulled into the layer store, packed as the initramfs.
  t.registry_images = true;
  return t;
}

Result<std::unique_ptr<harness::Backend>> MakeVmBackend(const BackendContext& context) {
  ISO_ASSIGN_OR_RETURN(std::shared_ptr<Shared> shared, MakeGuestShared<Shared>(context, "vm"));
  return std::unique_ptr<harness::Backend>(new VmBackend(std::move(shared)));
}

void RegisterVmBackend(harness::BackendRegistry& registry) {
  registry.Register("vm", "KVM (or TCG) virtual machines through libvirt", VmTraits(),
                    MakeVmBackend);
}

}  // namespace isobench::vm
