#include "vm/raw_qemu.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <set>

#include "harness/child_process.h"
#include "harness/fd.h"
#include "harness/log.h"
#include "harness/procfs.h"
#include "vm/accelerator.h"
#include "vm/domain_xml.h"
#include "vm/guest_files.h"
#include "vm/guest_from_spec.h"
#include "vm/guest_session.h"
#include "vm/guest_shared.h"
#include "vm/unix_socket.h"
#include "vm/vm_options.h"

namespace isobench::vm {

using harness::BackendContext;
using harness::ChildProcess;
using harness::Clock;
using harness::Error;
using harness::InstanceSpec;
using harness::Result;

namespace {

// /proc/<pid>/comm of every bare qemu this file starts (qemu -name ...,process=), and the
// environment variable that names its run: how ReclaimStale finds orphans.
constexpr const char* kProcessName = "isobench-raw";
constexpr const char* kRunEnv = "ISOBENCH_RUN_ID=";
constexpr auto kConnectTimeout = std::chrono::seconds(10);

std::string Mebibytes(uint64_t bytes) { return std::to_string(bytes >> 20); }

}  // namespace

Result<std::vector<std::string>> BuildQemuArgv(const GuestConfig& guest,
                                               const std::string& qemu_binary) {
  ISO_RETURN_IF_ERROR(ValidateGuestConfig(guest).Context("qemu command line"));
  if (!guest.vcpu_pins.empty())
    return Error("qemu-raw: vCPU pinning needs libvirt (per-thread affinity)", EOPNOTSUPP);
  if (guest.cpu_quota > 0)
    return Error("qemu-raw: a CPU quota needs libvirt (cgroup bandwidth)", EOPNOTSUPP);
  if (guest.io_weight > 0)
    return Error("qemu-raw: an I/O weight needs libvirt (blkio cgroup)", EOPNOTSUPP);
  if (guest.memory_bytes % (1 << 20) != 0)
    return Error("qemu-raw: guest memory must be whole MiB", EINVAL);
  const bool kvm = guest.accelerator == Accelerator::kKvm;
  std::vector<std::string> a = {qemu_binary};
  auto add = [&](std::initializer_list<std::string> args) { a.insert(a.end(), args); };
  add({"-name", "guest=" + guest.name + ",process=" + kProcessName + ",debug-threads=on"});
  std::string machine(MachineTypeName(guest.machine));
  machine += kvm ? ",accel=kvm" : ",accel=tcg";
  if (guest.machine != MachineType::kMicrovm) machine += ",usb=off";
  add({"-machine", machine});
  // libvirt's defaults for the same XML: host CPU under KVM, qemu64 under TCG.
  add({"-cpu", kvm ? "host" : "qemu64"});
  add({"-m", Mebibytes(guest.memory_bytes)});
  if (guest.hugepages) add({"-mem-path", "/dev/hugepages"});
  add({"-smp", std::to_string(guest.vcpus) + ",sockets=1,cores=" + std::to_string(guest.vcpus) +
                   ",threads=1"});
  add({"-nodefaults", "-no-user-config", "-display", "none"});
  add({"-rtc", "base=utc", "-boot", "strict=on"});
  // <on_reboot>destroy</on_reboot>: a rebooting (panicking) guest ends qemu.
  add({"-no-reboot"});
  add({"-kernel", guest.kernel});
  if (!guest.initrd.empty()) add({"-initrd", guest.initrd});
  if (!guest.cmdline.empty()) add({"-append", guest.cmdline});
  const std::pair<const std::string*, int> serials[] = {{&guest.console_socket, 0},
                                                        {&guest.channel_socket, 1}};
  for (auto [path, index] : serials) {
    std::string id = "charserial" + std::to_string(index);
    add({"-chardev", "socket,id=" + id + ",path=" + *path + ",server=on,wait=off"});
    add({"-device", "isa-serial,chardev=" + id + ",id=serial" + std::to_string(index) +
                        ",index=" + std::to_string(index)});
  }
  const bool mmio = guest.machine == MachineType::kMicrovm;
  if (guest.disk) {
    const DiskConfig& d = *guest.disk;
    // Same cache semantics as libvirt's <driver cache=...> (qemu's -drive cache= modes).
    std::string drive = "file=" + d.path +
                        ",format=raw,if=none,id=drive-virtio-disk0,cache=" + d.cache +
                        ",aio=" + d.io;
    if (d.read_only) drive += ",readonly=on";
    add({"-drive", drive});
    add({"-device", std::string(mmio ? "virtio-blk-device" : "virtio-blk-pci") +
                        ",drive=drive-virtio-disk0,id=virtio-disk0"});
  }
  if (guest.network) {
    const NetworkConfig& n = *guest.network;
    std::string netdev;
    if (n.type == "user")
      netdev = "user,id=net0";
    else if (n.type == "bridge")
      netdev = "bridge,id=net0,br=" + n.source;
    else
      return Error(
          "qemu-raw: network type `" + n.type + "` is a libvirt network (use user or bridge)",
          EOPNOTSUPP);
    add({"-netdev", netdev});
    std::string device =
        std::string(mmio ? "virtio-net-device" : "virtio-net-pci") + ",netdev=net0";
    if (!n.mac.empty()) device += ",mac=" + n.mac;
    add({"-device", device});
  }
  return a;
}

namespace {

struct RawShared : GuestShared {
  std::string Binary() const {
    return options.emulator.empty() ? kDefaultQemuBinary : options.emulator;
  }
};

class RawQemuInstance final : public harness::Instance {
 public:
  RawQemuInstance(std::shared_ptr<RawShared> shared, std::string name, uint64_t guest_memory)
      : shared_(std::move(shared)), name_(std::move(name)), guest_memory_(guest_memory) {}
  ~RawQemuInstance() override {
    auto r = Destroy();
    if (!r.ok()) ISO_LOG(kWarning) << "qemu-raw " << name_ << ": " << r.error().message();
  }

  const std::string& name() const override { return name_; }
  const harness::StartupTiming& startup() const override { return timing_; }
  pid_t host_pid() const override { return qemu_.pid(); }

  Result<nlohmann::json> Call(nlohmann::json request, std::chrono::milliseconds timeout) override {
    if (!session_) return Error("qemu-raw " + name_ + ": not running", ENOTCONN);
    return session_->Call(std::move(request), timeout).Context("qemu-raw " + name_);
  }

  Result<harness::ResourceUsage> Usage() override {
    if (!qemu_.running()) return Error("qemu-raw " + name_ + ": not running", ESRCH);
    harness::ResourceUsage usage;
    ISO_ASSIGN_OR_RETURN(usage.pss_bytes, harness::ProcessPssBytes(qemu_.pid()));
    ISO_ASSIGN_OR_RETURN(usage.cpu_seconds, harness::ProcessCpuSeconds(qemu_.pid()));
    usage.guest_memory_bytes = guest_memory_;
    usage.pids = 1;
    usage.memory_missing = "qemu runs in the harness's own cgroup: no cgroup of its own";
    return usage;
  }

  Result<void> Launch(const InstanceSpec& spec, Clock::time_point start, Accelerator accel);
  Result<void> Destroy() override;

 private:
  std::string QemuLog() const {
    auto text = harness::ReadFile(log_path_);
    if (!text.ok() || text->empty()) return "";
    return "\n--- qemu stderr ---\n" + text->substr(0, 4000);
  }

  std::shared_ptr<RawShared> shared_;
  std::string name_;
  uint64_t guest_memory_ = 0;
  bool reserved_ = false;
  bool owns_files_ = false;
  std::string console_socket_, channel_socket_, log_path_, disk_path_;
  ChildProcess qemu_;
  std::unique_ptr<GuestSession> session_;
  harness::StartupTiming timing_;
  bool ready_ = false;  // the agent answered: a graceful power-off can be asked for
  std::mutex destroy_mu_;
  bool destroyed_ = false;
};

Result<void> RawQemuInstance::Launch(const InstanceSpec& spec, Clock::time_point start,
                                     Accelerator accel) {
  const VmOptions& o = shared_->options;
  const BackendContext& c = shared_->context;
  ISO_RETURN_IF_ERROR(harness::ValidateInstanceName(spec.name));
  ISO_ASSIGN_OR_RETURN(
      GuestConfig guest,
      GuestFromSpec(
          spec, o, c, DomainName(c.run_id, spec.name), accel,
          {.dir = shared_->RunSocketDir(), .disk_dir = shared_->RunDiskDir(), .tag = ".r"}));
  ISO_RETURN_IF_ERROR(CheckGuestImage(c.image));
  if (!shared_->Reserve(spec.name))
    return Error("instance `" + spec.name + "` already exists in run " + c.run_id, EEXIST);
  reserved_ = true;

  ISO_ASSIGN_OR_RETURN(std::vector<std::string> argv, BuildQemuArgv(guest, shared_->Binary()));

  owns_files_ = true;
  console_socket_ = guest.console_socket;
  channel_socket_ = guest.channel_socket;
  log_path_ = shared_->RunSocketDir() + "/" + spec.name + ".rlog";
  ISO_RETURN_IF_ERROR(shared_->dirs->sockets().Ensure());
  for (const std::string& path : {console_socket_, channel_socket_})
    ISO_RETURN_IF_ERROR(RemoveFileIfExists(path));
  if (guest.disk) {
    disk_path_ = guest.disk->path;
    ISO_RETURN_IF_ERROR(shared_->dirs->disks().Ensure());
    ISO_ASSIGN_OR_RETURN(harness::Fd fd,
                         harness::Open(disk_path_, O_RDWR | O_CREAT | O_TRUNC, 0644));
    if (::ftruncate(fd.get(), static_cast<off_t>(spec.disk_bytes)) < 0)
      return Error::Errno("ftruncate", disk_path_);
  }
  ISO_ASSIGN_OR_RETURN(harness::Fd log,
                       harness::Open(log_path_, O_WRONLY | O_CREAT | O_TRUNC, 0644));
  ChildProcess::SpawnOptions spawn;
  spawn.stdout_fd = log.get();
  spawn.stderr_fd = log.get();
  spawn.env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", std::string(kRunEnv) + c.run_id};
  ISO_ASSIGN_OR_RETURN(qemu_, ChildProcess::Spawn(argv, spawn).Context("starting qemu"));
  auto spawned_at = Clock::now();

  auto deadline = start + o.ready_timeout;
  auto alive = [this]() -> Result<void> {
    auto status = qemu_.WaitFor(std::chrono::milliseconds(0));
    if (status.ok() && status->has_value())
      return Error("qemu " + harness::DescribeWaitStatus(**status) + " before the agent was ready" +
                       QemuLog(),
                   ECHILD);
    return {};
  };
  // qemu creates its listening sockets during start-up; a qemu that dies first (bad
  // argument) must be reported as such, not as a missing socket.
  for (;;) {
    auto connected =
        GuestSession::Connect(console_socket_, channel_socket_,
                              std::min(deadline, Clock::now() + std::chrono::milliseconds(200)));
    if (connected.ok()) {
      session_ = std::move(*connected);
      break;
    }
    ISO_RETURN_IF_ERROR(alive());
    if (Clock::now() >= std::min(deadline, spawned_at + kConnectTimeout))
      return std::move(connected).error();
  }
  auto ready = session_->WaitReady(deadline, alive);
  if (!ready.ok()) {
    Error error = std::move(ready).error();
    if (error.errno_value() == ETIMEDOUT) return ReadyTimeoutError(o.ready_timeout, error);
    if (error.errno_value() == EPIPE) {
      // The channel's EOF can come a moment before qemu has exited.
      auto status = qemu_.WaitFor(std::chrono::seconds(3));
      if (status.ok() && status->has_value())
        return Error("qemu " + harness::DescribeWaitStatus(**status) +
                         " before the agent was ready" + QemuLog() +
                         session_->ConsoleTailForError(),
                     ECHILD);
    }
    return error;
  }
  ready_ = true;
  timing_ =
      session_->Timing(start, {{"process_spawned", harness::SecondsBetween(start, spawned_at)}});
  if (auto cpu = harness::ProcessCpuSeconds(qemu_.pid()); cpu.ok()) timing_.host_cpu_seconds = *cpu;
  return {};
}

Result<void> RawQemuInstance::Destroy() {
  std::lock_guard<std::mutex> lock(destroy_mu_);
  if (destroyed_) return {};
  if (qemu_.running()) {
    auto graceful = shared_->options.shutdown_timeout;
    bool exited = false;
    if (session_ && ready_ && graceful.count() > 0) {
      auto asked = session_->RequestShutdown(
          std::min<std::chrono::milliseconds>(graceful, std::chrono::seconds(2)));
      if (asked.ok()) {
        auto status = qemu_.WaitFor(graceful);
        exited = status.ok() && status->has_value();
      }
    }
    if (!exited) qemu_.Kill();
  }
  if (session_) session_->Close();
  session_.reset();
  if (owns_files_) {
    for (const std::string* path : {&console_socket_, &channel_socket_, &log_path_, &disk_path_})
      if (!path->empty()) (void)RemoveFileIfExists(*path);
    // The run directories go with the last instance (GuestRunDirs).
  }
  if (reserved_) {
    shared_->Unreserve(name_);
    reserved_ = false;
  }
  destroyed_ = true;
  return {};
}

Result<std::unique_ptr<RawQemuInstance>> LaunchRaw(const std::shared_ptr<RawShared>& shared,
                                                   const InstanceSpec& spec,
                                                   Clock::time_point start, Accelerator accel) {
  auto instance = std::make_unique<RawQemuInstance>(shared, spec.name, spec.memory_bytes);
  auto launched = instance->Launch(spec, start, accel);
  if (!launched.ok()) {
    Error error = std::move(launched).error();
    error.Context("qemu-raw `" + spec.name + "`");
    (void)instance->Destroy();
    return error;
  }
  return instance;
}

class RawQemuBackend final : public harness::Backend {
 public:
  explicit RawQemuBackend(std::shared_ptr<RawShared> shared) : shared_(std::move(shared)) {}
  std::string name() const override { return "qemu-raw" + shared_->options.row_suffix; }
  harness::BackendTraits traits() const override { return RawQemuTraits(); }

  harness::Availability Probe() override {
    if (::access(shared_->Binary().c_str(), X_OK) != 0)
      return {false,
              "qemu-raw: `" + shared_->Binary() + "` is not executable (install qemu-system-x86)",
              /*absent=*/true};
    if (auto r = CheckGuestImage(shared_->context.image); !r.ok())
      return {false, r.error().message()};
    auto accel = Accel();
    if (!accel.ok()) return {false, accel.error().message()};
    return {true, accel->reason};
  }

  std::map<std::string, std::string> Describe() override {
    std::map<std::string, std::string> facts;
    if (auto accel = Accel(); accel.ok()) {
      facts["qemu-raw.accelerator"] = std::string(AcceleratorName(accel->accelerator));
      facts["qemu-raw.accelerator_reason"] = accel->reason;
      facts["qemu-raw.nested"] = accel->nested;
    }
    if (auto version = harness::RunCapture({shared_->Binary(), "--version"}); version.ok())
      facts["qemu-raw.qemu_version"] = version->substr(0, version->find('\n'));
    facts["qemu-raw.machine"] = std::string(MachineTypeName(shared_->options.machine));
    facts["qemu-raw.guest_kernel_release"] = shared_->context.image.kernel_release;
    return facts;
  }

  Result<std::unique_ptr<harness::Instance>> Create(const InstanceSpec& spec) override {
    // Detection first: with a vendor module loaded it boots a probe guest, which is no
    // part of this instance's startup (the first boot under KVM counted it).
    ISO_ASSIGN_OR_RETURN(AcceleratorChoice accel, Accel());
    auto start = Clock::now();
    ISO_ASSIGN_OR_RETURN(auto instance, LaunchRaw(shared_, spec, start, accel.accelerator));
    return std::unique_ptr<harness::Instance>(std::move(instance));
  }

  Result<int> ReclaimStale() override;

 private:
  Result<AcceleratorChoice> Accel() {
    std::lock_guard<std::mutex> detect(accel_mu_);
    if (shared_->accel) return *shared_->accel;
    auto probe = [this](std::chrono::milliseconds timeout) -> Result<double> {
      auto shared = shared_->ProbeState<RawShared>(timeout);
      InstanceSpec spec;
      spec.name = "kvm-probe";
      auto instance = LaunchRaw(shared, spec, Clock::now(), Accelerator::kKvm);
      if (!instance.ok()) {
        std::string message = instance.error().message();
        return Error(message.substr(0, message.find('\n')), instance.error().errno_value());
      }
      return (*instance)->startup().ready_seconds;
    };
    KvmFacts facts = ReadKvmFacts();
    ISO_ASSIGN_OR_RETURN(AcceleratorChoice choice,
                         ChooseAccelerator(shared_->options.accel, facts, probe,
                                           shared_->options.kvm_probe_timeout.value_or(
                                               DefaultKvmProbeTimeout(facts))));
    shared_->accel = choice;
    return choice;
  }

  std::shared_ptr<RawShared> shared_;
  std::mutex accel_mu_;
};

Result<int> RawQemuBackend::ReclaimStale() {
  // Bare qemu is not tied to the harness the way AUTODESTROY ties libvirt domains to
  // their connection: a killed harness leaves it running. Find it by process name and
  // run label, and kill it if its run is over.
  int reclaimed = 0;
  ISO_ASSIGN_OR_RETURN(std::vector<pid_t> named, harness::PidsByComm({kProcessName}));
  std::vector<pid_t> orphans;
  for (pid_t pid : named) {
    std::string base = "/proc/" + std::to_string(pid);
    auto environ = harness::ReadFile(base + "/environ");
    if (!environ.ok()) continue;
    size_t at = environ->find(kRunEnv);
    if (at == std::string::npos) continue;
    std::string run = environ->substr(at + std::strlen(kRunEnv));
    run = run.substr(0, run.find('\0'));
    if (run == shared_->context.run_id || RunOwnerAlive(run)) continue;
    orphans.push_back(pid);
  }
  for (pid_t pid : orphans) {
    ISO_LOG(kInfo) << "qemu-raw: killing orphaned qemu pid " << pid;
    if (::kill(pid, SIGKILL) == 0) ++reclaimed;
  }
  for (const std::string& root : {shared_->options.socket_dir, shared_->context.workdir + "/vm"}) {
    // Only raw-qemu files: the vm backend's ReclaimStale owns the rest of these dirs,
    // and removing a whole run dir is safe either way once its run is over.
    ISO_ASSIGN_OR_RETURN(int removed, RemoveStaleRunDirs(root, shared_->context.run_id));
    reclaimed += removed;
  }
  return reclaimed;
}

}  // namespace

harness::BackendTraits RawQemuTraits() {
  harness::BackendTraits t;
  t.kind = harness::BackendTraits::Kind::kVm;
  t.role = harness::BackendTraits::Role::kFloor;
  t.boots_guest_kernel = true;
  t.supports_volumes = false;  // Create refuses them
  t.slow_start = true;
  return t;
}

Result<std::unique_ptr<harness::Backend>> MakeRawQemuBackend(const BackendContext& context) {
  ISO_ASSIGN_OR_RETURN(std::shared_ptr<RawShared> shared,
                       MakeGuestShared<RawShared>(context, "qemu-raw"));
  return std::unique_ptr<harness::Backend>(new RawQemuBackend(std::move(shared)));
}

void RegisterRawQemuBackend(harness::BackendRegistry& registry) {
  registry.Register("qemu-raw",
                    "the vm backend's guest started by a bare qemu command line (no libvirt)",
                    RawQemuTraits(), MakeRawQemuBackend);
}

Result<harness::StartupTiming> TimeRawQemuBoot(const BackendContext& context,
                                               const InstanceSpec& spec) {
  ISO_ASSIGN_OR_RETURN(auto backend, MakeRawQemuBackend(context));
  ISO_ASSIGN_OR_RETURN(auto instance, backend->Create(spec));
  harness::StartupTiming timing = instance->startup();
  ISO_RETURN_IF_ERROR(instance->Destroy());
  return timing;
}

}  // namespace isobench::vm
