#include "container/oci/oci_backend.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <optional>
#include <sstream>

#include "container/capabilities.h"
#include "container/cgroup.h"
#include "container/idmap.h"
#include "container/known_deviations.h"
#include "container/network.h"
#include "container/oci/oci_runtime.h"
#include "container/oci/oci_spec.h"
#include "harness/agent_client.h"
#include "harness/child_process.h"
#include "harness/fd.h"
#include "harness/image.h"
#include "harness/log.h"
#include "harness/mount.h"
#include "harness/pulled_images.h"
#include "harness/run_owner.h"

namespace isobench::container::oci {

using harness::Availability;
using harness::BackendContext;
using harness::Clock;
using harness::Error;
using harness::Fd;
using harness::Instance;
using harness::InstanceSpec;
using harness::Result;
using json = nlohmann::json;

namespace {

constexpr char kLabelRun[] = "org.isobench.run-id";
constexpr char kLabelInstance[] = "org.isobench.instance";
// "<pid> <start time>" of the harness that made the container: the state root is shared
// by every workdir, so a container's liveness must not depend on finding its run
// directory.
constexpr char kLabelOwner[] = "org.isobench.owner";
constexpr char kIdPrefix[] = "isobench-";
constexpr char kCgroupParent[] = "/isobench-oci";

std::string Option(const BackendContext& context, const std::string& key,
                   const std::string& fallback) {
  auto it = context.options.find(key);
  return it == context.options.end() || it->second.empty() ? fallback : it->second;
}

std::string OwnerLabel() { return harness::OwnerOfThisProcess(); }

Result<Fd> PidFd(pid_t pid) {
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) return Error::Errno("pidfd_open", std::to_string(pid));
  return Fd(fd);
}

bool PidFdExited(int pidfd) {
  struct pollfd pfd = {pidfd, POLLIN, 0};
  return ::poll(&pfd, 1, 0) > 0;
}

std::string LogTail(const std::string& path) {
  auto text = harness::ReadFile(path);
  if (!text.ok() || text->empty()) return {};
  std::string tail = text->size() > 600 ? text->substr(text->size() - 600) : *text;
  while (!tail.empty() && (tail.back() == '\n' || tail.back() == ' ')) tail.pop_back();
  return tail;
}

double ChildrenCpuSeconds() {
  struct rusage ru;
  ::getrusage(RUSAGE_CHILDREN, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

std::string ReadTrimmed(const std::string& path) {
  auto text = harness::ReadFile(path);
  if (!text.ok()) return {};
  std::string s = *text;
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

class OciInstance : public Instance {
 public:
  OciInstance(Runtime runtime, std::string name, std::string id, std::string dir,
              std::shared_ptr<CgroupMountsCache> cgroups)
      : runtime_(std::move(runtime)),
        name_(std::move(name)),
        id_(std::move(id)),
        dir_(std::move(dir)),
        cgroups_(std::move(cgroups)) {}
  ~OciInstance() override { (void)Destroy(); }
  // The registry image it started from (InstanceSpec::image): its layers stay in use.
  void HoldImage(std::shared_ptr<const harness::PulledImage> image) { image_ = std::move(image); }

  const std::string& name() const override { return name_; }
  const harness::StartupTiming& startup() const override { return timing_; }
  pid_t host_pid() const override { return pid_; }
  Result<json> Call(json request, std::chrono::milliseconds timeout) override {
    return agent_.Call(std::move(request), timeout);
  }
  Result<harness::ResourceUsage> Usage() override;
  Result<void> Destroy() override;
  std::optional<harness::NetworkEndpoint> endpoint() const override { return endpoint_; }

  // Create()'s steps, in order; each leaves the instance destroyable.
  // Network "bridge", between create and start: a veth into init's namespace as eth0.
  Result<void> AttachVeth(bool guard) {
    ISO_ASSIGN_OR_RETURN(VethPlan plan, PlanVeth(guard));
    ISO_ASSIGN_OR_RETURN(veth_, VethLink::Create(plan, pid_));
    ISO_RETURN_IF_ERROR(ConfigureEth0Of(pid_, plan));
    endpoint_ = harness::NetworkEndpoint{plan.address, harness::CurrentBridgeSubnet().host_address,
                                         veth_.name()};
    return {};
  }
  Result<void> MountRootfs(const std::string& lower, const std::vector<IdMapping>& userns_map,
                           bool user_ns);
  Result<void> RunCreate(const json& config, const std::vector<std::string>& flags, Fd guest_end);
  Result<void> Start() { return runtime_.Start(id_); }
  Result<void> WaitReady(Fd host_end, Clock::time_point deadline);
  std::string rootfs() const { return dir_ + "/rootfs"; }
  harness::StartupTiming& timing() { return timing_; }
  const harness::AgentClient& agent() const { return agent_; }

 private:
  Runtime runtime_;
  std::string name_, id_, dir_;
  std::shared_ptr<CgroupMountsCache> cgroups_;  // the backend's
  harness::Mount rootfs_mount_;
  bool created_ = false;
  bool destroyed_ = false;
  pid_t pid_ = -1;
  Fd pidfd_;
  harness::AgentClient agent_;
  harness::StartupTiming timing_;
  VethLink veth_;
  std::optional<harness::NetworkEndpoint> endpoint_;
  std::shared_ptr<const harness::PulledImage> image_;
};

Result<void> OciInstance::MountRootfs(const std::string& lower,
                                      const std::vector<IdMapping>& userns_map, bool user_ns) {
  for (const char* sub : {"upper", "work", "rootfs"})
    ISO_RETURN_IF_ERROR(harness::MakeDirs(dir_ + "/" + sub, 0755));
  if (user_ns) {
    // The root directory of the merged tree is the upper directory: owned by the
    // namespace's root, so the instance's root owns "/".
    int64_t root = MapToHost(userns_map, 0);
    if (root < 0) return Error("oci: the user namespace map does not map uid 0", EINVAL);
    for (const char* sub : {"upper", "work"})
      if (::chown((dir_ + "/" + sub).c_str(), static_cast<uid_t>(root), static_cast<gid_t>(root)) !=
          0)
        return Error::Errno("chown", dir_ + "/" + sub);
  }
  // The shared image is the read-only lower layer: nothing an instance writes reaches it.
  ISO_ASSIGN_OR_RETURN(rootfs_mount_,
                       harness::Mount::Create("overlay", rootfs(), "overlay", 0,
                                              "lowerdir=" + lower + ",upperdir=" + dir_ +
                                                  "/upper,workdir=" + dir_ + "/work"));
  return {};
}

Result<void> OciInstance::RunCreate(const json& config, const std::vector<std::string>& flags,
                                    Fd guest_end) {
  ISO_RETURN_IF_ERROR(harness::WriteWholeFile(dir_ + "/config.json", config.dump(2), 0600));
  std::string log = dir_ + "/runtime.log";
  ISO_ASSIGN_OR_RETURN(Fd log_fd, harness::Open(log, O_WRONLY | O_CREAT | O_APPEND, 0600));
  ISO_ASSIGN_OR_RETURN(Fd null_fd, harness::Open("/dev/null", O_RDONLY));
  std::vector<std::string> args = {"create",           "--bundle",       dir_, "--pid-file",
                                   dir_ + "/init.pid", "--preserve-fds", "1"};
  args.insert(args.end(), flags.begin(), flags.end());
  args.push_back(id_);
  harness::ChildProcess::SpawnOptions options;
  // fd 3 in the container is the channel; its stdio (inherited through `create`) go to
  // the log, so the runtime's errors and anything the agent prints land together.
  options.fds = {{null_fd.get(), 0}, {guest_end.get(), 3}};
  options.stdout_fd = log_fd.get();
  options.stderr_fd = log_fd.get();
  created_ = true;  // from here on, Destroy() asks the runtime to delete
  ISO_ASSIGN_OR_RETURN(harness::ChildProcess child,
                       harness::ChildProcess::Spawn(runtime_.Command(args), options));
  guest_end.Reset();
  ISO_ASSIGN_OR_RETURN(std::optional<int> status, child.WaitFor(std::chrono::seconds(30)));
  if (!status)
    return Error("oci: `" + runtime_.path() + " create` timed out: " + LogTail(log), ETIMEDOUT);
  if (*status != 0)
    return Error("oci: `" + runtime_.path() + " create` " + harness::DescribeWaitStatus(*status) +
                     ": " + LogTail(log),
                 EIO);
  std::string pid_text = ReadTrimmed(dir_ + "/init.pid");
  pid_ = static_cast<pid_t>(std::atoi(pid_text.c_str()));
  if (pid_ <= 0) return Error("oci: no pid in " + dir_ + "/init.pid", EPROTO);
  ISO_ASSIGN_OR_RETURN(pidfd_, PidFd(pid_));
  return {};
}

Result<void> OciInstance::WaitReady(Fd host_end, Clock::time_point deadline) {
  agent_ = harness::AgentClient(std::move(host_end));
  int pidfd = pidfd_.get();
  std::string log = dir_ + "/runtime.log";
  agent_.SetLiveness([pidfd, log]() -> Result<void> {
    if (PidFdExited(pidfd))
      return Error("oci: the container's init exited: " + LogTail(log), ECHILD);
    return {};
  });
  ISO_RETURN_IF_ERROR(agent_.WaitReady(deadline));
  return {};
}

Result<void> OciInstance::Destroy() {
  if (destroyed_) return {};
  destroyed_ = true;
  agent_.Close();
  Result<void> result;
  if (created_) {
    auto deleted = runtime_.Delete(id_);
    if (!deleted.ok()) result = std::move(deleted).error();
    // `delete --force` SIGKILLs init; wait until it is gone before taking its root away.
    if (pidfd_.valid()) {
      struct pollfd pfd = {pidfd_.get(), POLLIN, 0};
      ::poll(&pfd, 1, 5000);
    }
  }
  // The kernel removes the veth with init's network namespace, but later, from a work
  // queue: delete the host end now, so that nothing of the instance outlives Destroy().
  auto unlinked = veth_.Delete();
  if (!unlinked.ok() && result.ok()) result = std::move(unlinked).error();
  if (rootfs_mount_.mounted()) {
    auto unmounted = rootfs_mount_.Unmount();
    if (!unmounted.ok() && result.ok()) result = std::move(unmounted).error();
  }
  auto removed = harness::RemoveTree(dir_);
  if (!removed.ok() && result.ok()) result = std::move(removed).error();
  if (!result.ok())
    ISO_LOG(kWarning) << "oci: destroying " << id_ << ": " << result.error().message();
  return result;
}

Result<harness::ResourceUsage> OciInstance::Usage() {
  if (pid_ <= 0 || destroyed_) return Error("oci: instance is not running", ESRCH);
  ISO_ASSIGN_OR_RETURN(CgroupMounts mounts, cgroups_->Get());
  ISO_ASSIGN_OR_RETURN(std::unique_ptr<Cgroup> cgroup, OpenCgroupOf(pid_, mounts));
  return ReadInstanceUsage(*cgroup).Context("oci: usage of `" + id_ + "`");
}

class OciBackend : public harness::Backend {
 public:
  OciBackend(BackendContext context, std::string name, std::string runtime)
      : context_(std::move(context)),
        name_(std::move(name)),
        runtime_name_(std::move(runtime)),
        base_dir_(context_.workdir + "/oci/" + name_),
        run_dir_(base_dir_, context_.run_id) {}

  ~OciBackend() override {
    // The veths went with their instances; the bridge goes when no other port is left.
    if (used_bridge_) {
      auto removed = RemoveIdleBridge();
      if (!removed.ok()) ISO_LOG(kWarning) << "oci: " << removed.error().message();
    }
  }

  std::string name() const override { return name_; }
  harness::BackendTraits traits() const override { return OciTraits(name_); }
  Availability Probe() override;
  std::map<std::string, std::string> Describe() override;
  Result<std::unique_ptr<Instance>> Create(const InstanceSpec& spec) override;
  Result<int> ReclaimStale() override;
  Result<harness::ImagePull> Pull(const std::string& reference) override {
    harness::ImagePull pull;
    ISO_RETURN_IF_ERROR(images_.Get(reference, &pull));
    return pull;
  }
  Result<int> EvictImages() override { return images_.Evict(); }
  Result<std::vector<std::string>> ImageLayerDirs(const std::string& reference) override {
    return images_.LayerDirs(reference);
  }

 private:
  Result<void> Prepare();
  Result<void> TrialRun();
  Result<std::string> RunDir();

  BackendContext context_;
  std::string name_, runtime_name_, base_dir_;
  // <base_dir_>/<run id>: released when the backend goes (each instance removes its own).
  harness::RunDirectory run_dir_;
  Runtime runtime_;
  std::optional<Availability> availability_;
  std::string version_;
  json default_spec_;
  std::string default_spec_path_;
  std::vector<IdMapping> userns_map_;
  std::shared_ptr<CgroupMountsCache> cgroups_ = std::make_shared<CgroupMountsCache>();
  bool runtime_missing_ = false;  // no runtime given, or its binary is not there
  bool used_bridge_ = false;      // an instance had network "bridge"
  // Registry images (InstanceSpec::image), unpacked into the layer store by the harness
  // and mounted as the bundle's overlay like the shared userland.
  harness::PulledImages images_{context_.workdir + "/layers/" + name_};
};

Result<void> OciBackend::Prepare() {
  std::string binary = Option(context_, name_ + ".path", runtime_name_);
  runtime_missing_ = true;
  if (binary.empty())
    return Error(
        "no runtime given: set the oci.runtime option (e.g. --option=oci.runtime=/usr/bin/crun)",
        EINVAL);
  ISO_ASSIGN_OR_RETURN(runtime_, Runtime::Locate(binary, "/run/isobench-oci/" + name_));
  runtime_missing_ = false;
  // 0711 down to each rootfs: a user-namespaced instance's root is an unprivileged host
  // uid that must traverse to its root, and nobody needs to list these directories.
  for (const std::string& dir : {context_.workdir + "/oci", base_dir_}) {
    ISO_RETURN_IF_ERROR(harness::MakeDirs(dir, 0711));
    if (::chmod(dir.c_str(), 0711) != 0) return Error::Errno("chmod", dir);
  }
  ISO_ASSIGN_OR_RETURN(version_, runtime_.Version());
  ISO_ASSIGN_OR_RETURN(default_spec_, runtime_.DefaultSpec(base_dir_ + "/spec"));
  default_spec_path_ = base_dir_ + "/default-spec.json";
  ISO_RETURN_IF_ERROR(harness::WriteWholeFile(default_spec_path_, default_spec_.dump(2) + "\n"));
  ISO_ASSIGN_OR_RETURN(userns_map_, ParseIdMap(Option(context_, "oci.userns_map", "100000")));
  std::string agent = context_.image.rootfs + harness::GuestImage::kAgentPath;
  if (::access(agent.c_str(), X_OK) != 0) return Error("agent `" + agent + "` is missing", ENOENT);
  return {};
}

// A container of the runtime's own defaults running /bin/true on the (read-only)
// image: the one honest answer to "does this runtime work on this host?" (crun, for
// one, refuses hybrid cgroup hierarchies).
Result<void> OciBackend::TrialRun() {
  std::string id = std::string(kIdPrefix) + "probe-" + std::to_string(::getpid());
  std::string dir = base_dir_ + "/" + id;
  ISO_RETURN_IF_ERROR(harness::MakeDirs(dir, 0700));
  BundleParams bundle;
  bundle.rootfs = context_.image.rootfs;
  bundle.args = {"/bin/true"};
  bundle.cgroups_path = std::string(kCgroupParent) + "/" + id;
  json config = RuntimeDefaultConfig(default_spec_, bundle);
  config["root"]["readonly"] = true;  // never write the shared image
  ISO_RETURN_IF_ERROR(harness::WriteWholeFile(dir + "/config.json", config.dump(2)));
  auto out =
      harness::RunCapture(runtime_.Command({"run", "--bundle", dir, id}), std::chrono::seconds(30));
  (void)runtime_.Delete(id);
  (void)harness::RemoveTree(dir);
  if (!out.ok()) return Error("a trial container failed: " + out.error().message(), EIO);
  return {};
}

Availability OciBackend::Probe() {
  if (availability_) return *availability_;
  auto prepared = Prepare();
  if (!prepared.ok()) {
    availability_ = Availability{false, prepared.error().message(), runtime_missing_};
    return *availability_;
  }
  auto trial = TrialRun();
  if (!trial.ok()) {
    std::string why = trial.error().message();
    if (why.size() > 400) why = why.substr(0, 400) + "...";
    availability_ = Availability{false, why};
    return *availability_;
  }
  availability_ = Availability{true, version_};
  return *availability_;
}

std::map<std::string, std::string> OciBackend::Describe() {
  Probe();
  std::map<std::string, std::string> facts;
  facts[name_ + ".runtime"] = runtime_.path();
  facts[name_ + ".version"] = version_;
  if (!default_spec_path_.empty()) facts[name_ + ".default_spec"] = default_spec_path_;
  return facts;
}

Result<std::string> OciBackend::RunDir() { return run_dir_.Ensure(); }

Result<std::unique_ptr<Instance>> OciBackend::Create(const InstanceSpec& spec) {
  auto start = Clock::now();
  double cpu_before = ChildrenCpuSeconds();
  ISO_RETURN_IF_ERROR(harness::ValidateInstanceName(spec.name));
  Availability availability = Probe();
  if (!availability.usable)
    return Error("oci backend `" + name_ + "` is not usable: " + availability.reason, ENODEV);
  ISO_ASSIGN_OR_RETURN(std::string run_dir, RunDir());
  std::string dir = run_dir + "/" + spec.name;
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0)
    return Error("oci: instance `" + spec.name + "` exists", EEXIST);
  std::string id = std::string(kIdPrefix) + context_.run_id + "-" + spec.name;
  auto instance = std::make_unique<OciInstance>(runtime_, spec.name, id, dir, cgroups_);

  bool runtime_default = IsRuntimeDefaultProfile(spec.profile.name, name_);
  std::string lower = context_.image.rootfs;
  std::vector<harness::Phase> pull_phase;
  if (!spec.image.empty()) {
    ISO_ASSIGN_OR_RETURN(auto image, images_.Get(spec.image));
    lower = harness::LowerDirOf(image->lowers);
    instance->HoldImage(std::move(image));
    pull_phase.push_back({"pull", harness::SecondsBetween(start, Clock::now())});
  }
  ISO_RETURN_IF_ERROR(
      instance->MountRootfs(lower, userns_map_, !runtime_default && spec.profile.user_ns));
  BundleParams bundle;
  bundle.rootfs = instance->rootfs();
  bundle.args = {harness::GuestImage::kAgentPath, "--channel-fd", "3"};
  bundle.cgroups_path = std::string(kCgroupParent) + "/" + id;
  bundle.annotations = {
      {kLabelRun, context_.run_id}, {kLabelInstance, spec.name}, {kLabelOwner, OwnerLabel()}};
  ISO_ASSIGN_OR_RETURN(bundle.host_bounding, HostBoundingSet());
  for (int r : {RLIMIT_NOFILE, RLIMIT_CORE, RLIMIT_MEMLOCK}) {
    struct rlimit value;
    if (::getrlimit(r, &value) == 0) bundle.host_rlimits[r] = value;
  }
  bundle.userns_map = userns_map_;
  ISO_ASSIGN_OR_RETURN(CgroupMounts cgroups, cgroups_->Get());
  bundle.memsw =
      cgroups.controllers.count("memory") &&
      ::access((cgroups.controllers["memory"] + "/memory.memsw.limit_in_bytes").c_str(), F_OK) == 0;
  struct utsname uts;
  ::uname(&uts);
  bundle.seccomp_arch =
      std::string(uts.machine) == "aarch64" ? "SCMP_ARCH_AARCH64" : "SCMP_ARCH_X86_64";
  json config;
  std::vector<std::string> flags;
  if (runtime_default) {
    config = RuntimeDefaultConfig(default_spec_, bundle);
  } else {
    ISO_ASSIGN_OR_RETURN(config, ConfigForSpec(default_spec_, spec, bundle));
    flags = CreateFlags(spec.profile);
  }
  auto bundled = Clock::now();

  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    return Error::Errno("socketpair");
  Fd host_end(sv[0]), guest_end(sv[1]);
  ISO_RETURN_IF_ERROR(instance->RunCreate(config, flags, std::move(guest_end)));
  if (spec.network == "bridge") {
    used_bridge_ = true;
    ISO_RETURN_IF_ERROR(instance->AttachVeth(spec.profile.network_guard));
  }
  auto created = Clock::now();
  ISO_RETURN_IF_ERROR(instance->Start());
  auto started = Clock::now();
  int timeout_ms = std::atoi(Option(context_, "oci.ready_timeout_ms", "10000").c_str());
  ISO_RETURN_IF_ERROR(
      instance->WaitReady(std::move(host_end), started + std::chrono::milliseconds(timeout_ms)));

  harness::StartupTiming& timing = instance->timing();
  auto ready = instance->agent().ready_at();
  timing.phases = pull_phase;
  timing.phases.insert(timing.phases.end(), {{"bundle", harness::SecondsBetween(start, bundled)},
                                             {"create", harness::SecondsBetween(start, created)},
                                             {"start", harness::SecondsBetween(start, started)},
                                             {"ready", harness::SecondsBetween(start, ready)}});
  timing.ready_seconds = harness::SecondsBetween(start, ready);
  timing.host_cpu_seconds = ChildrenCpuSeconds() - cpu_before;
  return std::unique_ptr<Instance>(std::move(instance));
}

Result<int> OciBackend::ReclaimStale() {
  if (!Probe().usable && runtime_.path().empty()) return 0;
  int reclaimed = 0;
  // Containers of runs whose owner is gone.
  auto list = runtime_.List();
  if (list.ok()) {
    for (const auto& c : *list) {
      std::string id = c.value("id", "");
      if (id.rfind(kIdPrefix, 0) != 0) continue;
      json labels = c.value("annotations", json::object());
      if (!labels.is_object()) labels = json::object();
      if (labels.value(kLabelRun, "") == context_.run_id) continue;
      if (harness::OwnerIsLive(labels.value(kLabelOwner, ""))) continue;
      auto deleted = runtime_.Delete(id);
      if (deleted.ok())
        ++reclaimed;
      else
        ISO_LOG(kWarning) << "oci: reclaiming " << id << ": " << deleted.error().message();
    }
  }
  // Run directories: unmount what is still mounted under them, then remove them.
  for (const std::string& path : harness::StaleRunDirs(base_dir_, context_.run_id, {"spec"})) {
    auto removed = harness::RemoveRunTree(path);
    if (removed.ok())
      reclaimed += 1 + *removed;
    else
      ISO_LOG(kWarning) << "oci: removing " << path << ": " << removed.error().message();
  }
  return reclaimed;
}

}  // namespace

harness::BackendTraits OciTraits(const std::string& name) {
  harness::BackendTraits t;
  t.kind = harness::BackendTraits::Kind::kContainer;
  t.oci_runtime = true;
  t.hardened_profile = true;
  t.runtime_default_profile = true;
  t.bridge_network = true;   // a veth added between create and start
  t.registry_images = true;  // the harness's layer store, mounted as the bundle's rootfs
  if (name == "runc" || name == "crun") t.role = harness::BackendTraits::Role::kReference;
  return t;
}

Result<std::unique_ptr<harness::Backend>> MakeOciBackend(const BackendContext& context,
                                                         const std::string& name,
                                                         const std::string& runtime) {
  std::string binary = runtime;
  if (binary.empty()) binary = Option(context, "oci.runtime", "");
  return std::unique_ptr<harness::Backend>(new OciBackend(context, name, binary));
}

void RegisterOciBackends(harness::BackendRegistry& registry) {
  registry.Register(
      "runc", "OCI runtime runc, from a config.json generated from the profile", OciTraits("runc"),
      [](const BackendContext& c) { return MakeOciBackend(c, "runc", "runc"); }, RuncDeviations());
  registry.Register("crun", "OCI runtime crun, from a config.json generated from the profile",
                    OciTraits("crun"),
                    [](const BackendContext& c) { return MakeOciBackend(c, "crun", "crun"); });
  registry.Register("oci", "any OCI runtime given by --option=oci.runtime=PATH", OciTraits("oci"),
                    [](const BackendContext& c) { return MakeOciBackend(c, "oci", ""); });
}

}  // namespace isobench::container::oci
