#include "container/docker/docker_backend.h"

#include <dirent.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>

#include "container/docker/docker_client.h"
#include "container/docker/docker_image.h"
#include "container/docker/docker_spec.h"
#include "harness/agent_client.h"
#include "harness/fd.h"
#include "harness/log.h"
#include "harness/proc_stats.h"
#include "harness/run_owner.h"

namespace isobench::container::docker {

using harness::Availability;
using harness::BackendContext;
using harness::Clock;
using harness::Fd;
using harness::Instance;
using harness::InstanceSpec;
using json = nlohmann::json;

namespace {

std::string Option(const BackendContext& context, const std::string& key,
                   const std::string& fallback) {
  auto it = context.options.find(key);
  return it == context.options.end() || it->second.empty() ? fallback : it->second;
}

using harness::ProcessStatFields;

// utime + stime (+ the reaped children's, for a shim whose runc has exited); 0 when gone.
double CpuSeconds(pid_t pid, bool with_children) {
  auto seconds = harness::ProcessCpuSeconds(pid, with_children);
  return seconds.ok() ? *seconds : 0;
}

pid_t ParentPid(pid_t pid) {
  auto f = ProcessStatFields(pid);
  return f.size() > 1 ? static_cast<pid_t>(std::atoi(f[1].c_str())) : 0;
}

using harness::OwnerIsLive;
using harness::OwnerOfThisProcess;

uint64_t PssBytes(pid_t pid) {
  auto pss = harness::ProcessPssBytes(pid);
  return pss.ok() ? *pss : 0;
}

// Host directories of `pid`'s cgroups: per v1 controller, and the unified one.
struct CgroupDirs {
  std::map<std::string, std::string> v1;  // "memory" -> /sys/fs/cgroup/memory/docker/<id>
  std::string v2;
};

CgroupDirs CgroupDirsOf(pid_t pid) {
  std::map<std::string, std::string> v1_paths;  // controller -> path in its hierarchy
  std::string v2_path;
  std::ifstream cg("/proc/" + std::to_string(pid) + "/cgroup");
  for (std::string line; std::getline(cg, line);) {
    size_t a = line.find(':'), b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    std::string controllers = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
    if (controllers.empty()) v2_path = path;
    std::stringstream list(controllers);
    for (std::string c; std::getline(list, c, ',');) v1_paths[c] = path;
  }
  CgroupDirs dirs;
  std::ifstream mi("/proc/self/mountinfo");
  for (std::string line; std::getline(mi, line);) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, target, options, word;
    fields >> id >> parent >> dev >> root >> target >> options;
    while (fields >> word && word != "-") {
    }
    std::string fstype, source, super;
    fields >> fstype >> source >> super;
    if (fstype == "cgroup2" && dirs.v2.empty() && !v2_path.empty()) dirs.v2 = target + v2_path;
    if (fstype != "cgroup") continue;
    for (const auto& [controller, path] : v1_paths)
      if (("," + super + ",").find("," + controller + ",") != std::string::npos)
        dirs.v1[controller] = target + path;
  }
  return dirs;
}

// The processes of `pid`'s memory cgroup (v1) or unified cgroup (v2).
std::vector<pid_t> CgroupMembers(const CgroupDirs& dirs, pid_t pid) {
  auto memory = dirs.v1.find("memory");
  std::string procs = (memory != dirs.v1.end() ? memory->second : dirs.v2) + "/cgroup.procs";
  std::vector<pid_t> members;
  std::ifstream in(procs);
  for (pid_t p; in >> p;) members.push_back(p);
  if (members.empty()) members.push_back(pid);
  return members;
}

// The container's usage from its cgroup files, as the daemon's stats endpoint reads
// them, without the endpoint's wait: with stream=false it answers on the stats
// collector's next one-second tick (one-shot only spares the first call). Empty when
// the files are not readable here (a remote daemon).
std::optional<harness::ResourceUsage> UsageFromCgroupFiles(const CgroupDirs& dirs) {
  auto read = [](const std::string& path) -> std::optional<uint64_t> {
    std::ifstream in(path);
    uint64_t v = 0;
    if (in >> v) return v;
    return std::nullopt;
  };
  harness::ResourceUsage usage;
  if (auto memory = dirs.v1.find("memory"); memory != dirs.v1.end()) {
    auto current = read(memory->second + "/memory.usage_in_bytes");
    if (!current) return std::nullopt;
    usage.memory_current_bytes = *current;
    usage.memory_peak_bytes = read(memory->second + "/memory.max_usage_in_bytes").value_or(0);
    if (auto cpu = dirs.v1.find("cpuacct"); cpu != dirs.v1.end())
      usage.cpu_seconds =
          static_cast<double>(read(cpu->second + "/cpuacct.usage").value_or(0)) * 1e-9;
    if (auto pids = dirs.v1.find("pids"); pids != dirs.v1.end())
      usage.pids = static_cast<int64_t>(read(pids->second + "/pids.current").value_or(0));
    return usage;
  }
  if (dirs.v2.empty()) return std::nullopt;
  auto current = read(dirs.v2 + "/memory.current");
  if (!current) return std::nullopt;
  usage.memory_current_bytes = *current;
  usage.memory_peak_bytes = read(dirs.v2 + "/memory.peak").value_or(0);
  usage.pids = static_cast<int64_t>(read(dirs.v2 + "/pids.current").value_or(0));
  std::ifstream stat(dirs.v2 + "/cpu.stat");
  std::string key;
  uint64_t value = 0;
  while (stat >> key >> value)
    if (key == "usage_usec") usage.cpu_seconds = static_cast<double>(value) * 1e-6;
  return usage;
}

// pids of the daemons by command name (dockerd, containerd), for host CPU accounting.
std::vector<pid_t> DaemonPids() {
  std::vector<pid_t> pids;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return pids;
  while (struct dirent* e = ::readdir(proc)) {
    if (!std::isdigit(static_cast<unsigned char>(e->d_name[0]))) continue;
    std::ifstream comm(std::string("/proc/") + e->d_name + "/comm");
    std::string name;
    comm >> name;
    if (name == "dockerd" || name == "containerd") pids.push_back(std::atoi(e->d_name));
  }
  ::closedir(proc);
  return pids;
}

double DaemonCpuSeconds(const std::vector<pid_t>& pids) {
  double total = 0;
  for (pid_t p : pids) total += CpuSeconds(p, false);
  return total;
}

Result<Fd> PidFd(pid_t pid) {
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) return Error::Errno("pidfd_open", std::to_string(pid));
  return Fd(fd);
}

bool PidFdExited(int pidfd) {
  struct pollfd pfd = {pidfd, POLLIN, 0};
  return ::poll(&pfd, 1, 0) > 0;
}

Result<Fd> ListenUnix(const std::string& path) {
  struct sockaddr_un addr;
  std::memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path)
    return Error(
        "docker: channel socket path `" + path + "` is longer than a unix socket address allows",
        ENAMETOOLONG);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) return Error::Errno("socket", "AF_UNIX");
  if (::bind(fd.get(), reinterpret_cast<struct sockaddr*>(&addr), sizeof addr) != 0)
    return Error::Errno("bind", path);
  if (::listen(fd.get(), 1) != 0) return Error::Errno("listen", path);
  return fd;
}

// The daemon connection shared by a backend and its instances; one request at a time.
class Daemon {
 public:
  explicit Daemon(DockerClient client) : client_(std::move(client)) {}
  Result<json> Call(std::string_view method, const std::string& path, const json& body = nullptr,
                    bool not_found_ok = false,
                    std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    std::lock_guard<std::mutex> lock(mu_);
    return client_.Call(method, path, body, not_found_ok, timeout);
  }
  Result<HttpResponse> Request(std::string_view method, const std::string& path) {
    std::lock_guard<std::mutex> lock(mu_);
    return client_.Request(method, path);
  }
  template <typename F>
  auto With(F f) {
    std::lock_guard<std::mutex> lock(mu_);
    return f(client_);
  }
  const std::string& socket_path() const { return client_.socket_path(); }

 private:
  std::mutex mu_;
  DockerClient client_;
};

class DockerInstance : public Instance {
 public:
  DockerInstance(std::shared_ptr<Daemon> daemon, std::string name, std::string container_name,
                 std::string dir)
      : daemon_(std::move(daemon)),
        name_(std::move(name)),
        container_name_(std::move(container_name)),
        dir_(std::move(dir)) {}
  ~DockerInstance() override { (void)Destroy(); }

  const std::string& name() const override { return name_; }
  const harness::StartupTiming& startup() const override { return timing_; }
  pid_t host_pid() const override { return pid_; }
  Result<json> Call(json request, std::chrono::milliseconds timeout) override {
    auto reply = agent_.Call(std::move(request), timeout);
    // A dead container explains a broken channel better than the broken pipe does.
    if (!reply.ok() && pidfd_.valid()) ISO_RETURN_IF_ERROR(Alive());
    return reply;
  }
  Result<harness::ResourceUsage> Usage() override;
  Result<void> Destroy() override;

  // Create()'s steps, in order; each leaves the instance destroyable.
  Result<void> Listen() {
    ISO_ASSIGN_OR_RETURN(listener_, ListenUnix(dir_ + "/ch.sock"));
    return {};
  }
  Result<void> CreateContainer(const json& body);
  Result<void> Start() {
    ISO_RETURN_IF_ERROR(daemon_->Call("POST", "/containers/" + id_ + "/start")
                            .Context("starting " + container_name_));
    return {};
  }
  Result<void> Inspect();
  Result<void> Accept(Clock::time_point deadline);
  Result<void> WaitReady(Clock::time_point deadline) {
    auto ready = agent_.WaitReady(deadline);
    if (ready.ok()) return {};
    ISO_RETURN_IF_ERROR(Alive());  // the agent's exit explains more than a timeout
    return std::move(ready).error().Context("docker: " + container_name_);
  }
  harness::StartupTiming& timing() { return timing_; }
  Clock::time_point ready_at() const { return agent_.ready_at(); }

 private:
  Result<void> Alive();
  std::string LogTail();

  std::shared_ptr<Daemon> daemon_;
  std::string name_, container_name_, dir_;
  std::string id_;
  bool destroyed_ = false;
  pid_t pid_ = -1;
  Fd pidfd_;
  Fd listener_;
  harness::AgentClient agent_;
  harness::StartupTiming timing_;
};

Result<void> DockerInstance::CreateContainer(const json& body) {
  ISO_ASSIGN_OR_RETURN(
      json created,
      daemon_->Call("POST", "/containers/create?name=" + UrlEncode(container_name_), body));
  id_ = created.is_object() ? created.value("Id", "") : "";
  if (id_.empty()) return Error("docker: POST /containers/create: no Id in the reply", EPROTO);
  return {};
}

Result<void> DockerInstance::Inspect() {
  ISO_ASSIGN_OR_RETURN(json info, daemon_->Call("GET", "/containers/" + id_ + "/json"));
  json state = info.value("State", json::object());
  pid_ = state.value("Pid", 0);
  if (pid_ <= 0)
    return Error("docker: container " + container_name_ + " is not running (" +
                     state.value("Status", "?") + ", exit code " +
                     std::to_string(state.value("ExitCode", -1)) + "): " + LogTail(),
                 ECHILD);
  auto pidfd = PidFd(pid_);
  if (!pidfd.ok()) {
    // The agent may exit between the inspect and pidfd_open(2): that is the same
    // failure as one seen a moment later, and is reported as such.
    if (pidfd.error().errno_value() == ESRCH)
      return Error("docker: the agent in " + container_name_ + " exited: " + LogTail(), ECHILD);
    return std::move(pidfd).error();
  }
  pidfd_ = std::move(*pidfd);
  return {};
}

std::string DockerInstance::LogTail() {
  if (id_.empty()) return {};
  auto r = daemon_->Request("GET", "/containers/" + id_ + "/logs?stdout=1&stderr=1&tail=20");
  if (!r.ok() || r->status != 200) return "(no logs)";
  std::string text = DemuxLogStream(r->body);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text.empty() ? "(no output)" : text;
}

Result<void> DockerInstance::Alive() {
  if (pidfd_.valid() && PidFdExited(pidfd_.get()))
    return Error("docker: the agent in " + container_name_ + " exited: " + LogTail(), ECHILD);
  return {};
}

Result<void> DockerInstance::Accept(Clock::time_point deadline) {
  for (;;) {
    int fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) {
      listener_.Reset();
      agent_ = harness::AgentClient(Fd(fd));
      agent_.SetLiveness([this] { return Alive(); });
      return {};
    }
    if (errno != EAGAIN && errno != EINTR) return Error::Errno("accept", dir_ + "/ch.sock");
    ISO_RETURN_IF_ERROR(Alive());
    auto now = Clock::now();
    if (now >= deadline)
      return Error("docker: the agent in " + container_name_ +
                       " did not connect to its channel in time: " + LogTail(),
                   ETIMEDOUT);
    struct pollfd fds[2] = {{listener_.get(), POLLIN, 0}, {pidfd_.get(), POLLIN, 0}};
    int wait_ms =
        static_cast<int>(
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count()) +
        1;
    ::poll(fds, 2, std::min(wait_ms, 100));
  }
}

Result<void> DockerInstance::Destroy() {
  if (destroyed_) return {};
  destroyed_ = true;
  agent_.Close();
  listener_.Reset();
  Result<void> result;
  if (!id_.empty()) {
    // force: SIGKILL first; v: anonymous volumes go with it. A daemon that is
    // restarting refuses connections for a few seconds: wait for it rather than leave
    // the container behind.
    auto deadline = Clock::now() + std::chrono::seconds(15);
    for (;;) {
      auto removed = daemon_->Call("DELETE", "/containers/" + id_ + "?force=1&v=1", nullptr,
                                   /*not_found_ok=*/true);
      if (removed.ok()) break;
      bool unreachable = removed.error().message().rfind("cannot reach", 0) == 0;
      if (!unreachable || Clock::now() >= deadline) {
        result = std::move(removed).error();
        break;
      }
      ::usleep(200 * 1000);
    }
  }
  auto tree = harness::RemoveTree(dir_);
  if (!tree.ok() && result.ok()) result = std::move(tree).error();
  if (!result.ok())
    ISO_LOG(kWarning) << "docker: destroying " << container_name_ << ": "
                      << result.error().message();
  return result;
}

Result<harness::ResourceUsage> DockerInstance::Usage() {
  if (destroyed_ || id_.empty())
    return Error("docker: instance " + name_ + " is not running", ESRCH);
  CgroupDirs dirs = pid_ > 0 ? CgroupDirsOf(pid_) : CgroupDirs{};
  std::optional<harness::ResourceUsage> from_files = UsageFromCgroupFiles(dirs);
  harness::ResourceUsage usage;
  if (from_files) {
    usage = *from_files;
  } else {
    // one-shot: the daemon would otherwise sample twice, a second apart, for precpu_stats.
    ISO_ASSIGN_OR_RETURN(json stats, daemon_->Call("GET", "/containers/" + id_ +
                                                              "/stats?stream=false&one-shot=true"));
    usage = UsageFromStats(stats);
  }
  // PSS of every process in the container's cgroup plus its monitor (the shim).
  if (pid_ > 0) {
    for (pid_t p : CgroupMembers(dirs, pid_)) usage.pss_bytes += PssBytes(p);
    pid_t shim = ParentPid(pid_);
    if (shim > 1) usage.pss_bytes += PssBytes(shim);
  }
  return usage;
}

class DockerBackend : public harness::Backend {
 public:
  explicit DockerBackend(BackendContext context) : context_(std::move(context)) {
    base_dir_ = context_.workdir + "/docker";
  }
  // The run's directory goes once its instances have (each removes its own).
  ~DockerBackend() override {
    if (run_dir_ready_) harness::ReleaseRunDir(base_dir_ + "/" + context_.run_id);
  }

  std::string name() const override { return "docker"; }
  harness::BackendTraits traits() const override { return DockerTraits(); }
  Availability Probe() override;
  std::map<std::string, std::string> Describe() override;
  Result<std::unique_ptr<Instance>> Create(const InstanceSpec& spec) override;
  Result<int> ReclaimStale() override;

 private:
  Result<void> Connect();
  Result<std::string> RunDir();
  Result<std::string> SaveDefaultSpec();

  BackendContext context_;
  std::string base_dir_;
  std::shared_ptr<Daemon> daemon_;
  std::optional<Availability> availability_;
  std::string socket_path_;
  DockerImage image_;
  json info_;
  std::vector<pid_t> daemon_pids_;
  bool run_dir_ready_ = false;
  std::optional<std::string> default_spec_path_;
};

Result<void> DockerBackend::Connect() {
  std::string host = Option(context_, "docker.host", "");
  ISO_ASSIGN_OR_RETURN(socket_path_, DockerSocketPath(host));
  ISO_ASSIGN_OR_RETURN(DockerClient client, DockerClient::Connect(socket_path_));
  daemon_ = std::make_shared<Daemon>(std::move(client));
  auto info = daemon_->Call("GET", "/info");
  if (info.ok()) info_ = *info;
  ISO_ASSIGN_OR_RETURN(
      image_, daemon_->With([&](DockerClient& c) { return EnsureGuestImage(c, context_.image); }));
  daemon_pids_ = DaemonPids();
  return {};
}

Availability DockerBackend::Probe() {
  if (availability_) return *availability_;
  auto connected = Connect();
  if (!connected.ok()) {
    daemon_.reset();
    availability_ = Availability{false, connected.error().message()};
    return *availability_;
  }
  std::string version =
      daemon_->With([](DockerClient& c) { return c.version().value("Version", "?"); });
  availability_ = Availability{true, "Docker Engine " + version + " at " + socket_path_};
  return *availability_;
}

std::map<std::string, std::string> DockerBackend::Describe() {
  Probe();
  std::map<std::string, std::string> facts;
  facts["docker.socket"] = socket_path_;
  if (!daemon_) return facts;
  daemon_->With([&](DockerClient& c) {
    facts["docker.version"] = c.version().value("Version", "");
    facts["docker.api_version"] = c.api_version();
    return 0;
  });
  facts["docker.image"] = image_.tag;
  if (!default_spec_path_) {
    auto saved = SaveDefaultSpec();
    if (!saved.ok())
      ISO_LOG(kWarning) << "docker: saving Docker's default spec: " << saved.error().message();
    default_spec_path_ = saved.ok() ? *saved : std::string();
  }
  if (!default_spec_path_->empty()) facts["docker.default_spec"] = *default_spec_path_;
  if (image_.built) facts["docker.image_build_seconds"] = std::to_string(image_.build_seconds);
  if (info_.is_object()) {
    facts["docker.storage_driver"] = info_.value("Driver", "");
    facts["docker.cgroup_driver"] = info_.value("CgroupDriver", "");
    facts["docker.cgroup_version"] = info_.value("CgroupVersion", "");
    facts["docker.default_runtime"] = info_.value("DefaultRuntime", "");
    std::string security;
    for (const auto& s : info_.value("SecurityOptions", json::array()))
      if (s.is_string()) security += (security.empty() ? "" : ";") + s.get<std::string>();
    facts["docker.security_options"] = security;
  }
  return facts;
}

// The OCI config.json the daemon hands its runtime for a container of Docker's own
// posture (profile "docker-default"): what Docker promises, in the form the conformance
// suite grades "<runtime>-default" targets by. Read from the running container's bundle,
// the shim's working directory. The hostname is left out: it is the caller's choice
// (InstanceSpec::hostname), not part of the posture.
Result<std::string> DockerBackend::SaveDefaultSpec() {
  InstanceSpec spec;
  spec.name = "default-spec";
  spec.profile.name = "docker-default";
  ISO_ASSIGN_OR_RETURN(std::unique_ptr<Instance> instance, Create(spec));
  pid_t shim = ParentPid(instance->host_pid());
  char bundle[4096];
  std::string cwd = "/proc/" + std::to_string(shim) + "/cwd";
  ssize_t n = ::readlink(cwd.c_str(), bundle, sizeof bundle - 1);
  if (n < 0) return Error::Errno("readlink", cwd);
  std::string config_path = std::string(bundle, static_cast<size_t>(n)) + "/config.json";
  ISO_ASSIGN_OR_RETURN(std::string text, harness::ReadFile(config_path));
  json config = json::parse(text, nullptr, false);
  if (!config.is_object())
    return Error("docker: `" + config_path + "` is not a JSON object", EPROTO);
  config.erase("hostname");
  ISO_RETURN_IF_ERROR(instance->Destroy());
  std::string path = base_dir_ + "/default-spec.json";
  ISO_RETURN_IF_ERROR(harness::MakeDirs(base_dir_, 0711));
  ISO_RETURN_IF_ERROR(harness::WriteWholeFile(path, config.dump(2) + "\n"));
  return path;
}

Result<std::string> DockerBackend::RunDir() {
  std::string run_dir = base_dir_ + "/" + context_.run_id;
  if (!run_dir_ready_) {
    ISO_RETURN_IF_ERROR(harness::MakeDirs(run_dir, 0711));
    ISO_RETURN_IF_ERROR(harness::WriteWholeFile(run_dir + "/owner", OwnerOfThisProcess() + "\n"));
    run_dir_ready_ = true;
  }
  return run_dir;
}

Result<std::unique_ptr<Instance>> DockerBackend::Create(const InstanceSpec& spec) {
  // The image is built (once) by Probe(), before the clock starts, as the other
  // backends' images are built before theirs.
  Availability availability = Probe();
  auto start = Clock::now();
  double daemon_cpu_before = DaemonCpuSeconds(daemon_pids_);
  ISO_RETURN_IF_ERROR(harness::ValidateInstanceName(spec.name));
  if (!availability.usable)
    return Error("docker backend is not usable: " + availability.reason, ENODEV);
  ISO_ASSIGN_OR_RETURN(std::string run_dir, RunDir());
  std::string dir = run_dir + "/" + spec.name;
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0)
    return Error("docker: instance `" + spec.name + "` exists", EEXIST);

  ContainerParams params;
  params.image = image_.tag;
  params.run_id = context_.run_id;
  params.owner = OwnerOfThisProcess();
  params.channel_dir = dir;
  ISO_ASSIGN_OR_RETURN(json body, ContainerCreateBody(spec, params));

  ISO_RETURN_IF_ERROR(harness::MakeDirs(dir, 0700));
  auto instance = std::make_unique<DockerInstance>(daemon_, spec.name,
                                                   ContainerName(context_.run_id, spec.name), dir);
  ISO_RETURN_IF_ERROR(instance->Listen());
  ISO_RETURN_IF_ERROR(instance->CreateContainer(body));
  auto created = Clock::now();
  ISO_RETURN_IF_ERROR(instance->Start());
  auto started = Clock::now();
  ISO_RETURN_IF_ERROR(instance->Inspect());
  auto inspected = Clock::now();
  int timeout_ms = std::atoi(Option(context_, "docker.ready_timeout_ms", "20000").c_str());
  auto deadline = start + std::chrono::milliseconds(timeout_ms);
  ISO_RETURN_IF_ERROR(instance->Accept(deadline));
  auto connected = Clock::now();
  ISO_RETURN_IF_ERROR(instance->WaitReady(deadline));

  harness::StartupTiming& timing = instance->timing();
  auto ready = instance->ready_at();
  timing.phases = {{"create", harness::SecondsBetween(start, created)},
                   {"start", harness::SecondsBetween(start, started)},
                   {"inspect", harness::SecondsBetween(start, inspected)},
                   {"connected", harness::SecondsBetween(start, connected)},
                   {"ready", harness::SecondsBetween(start, ready)}};
  timing.ready_seconds = harness::SecondsBetween(start, ready);
  // dockerd and containerd's share, plus the instance's own shim (and the runc it ran).
  timing.host_cpu_seconds = DaemonCpuSeconds(daemon_pids_) - daemon_cpu_before;
  if (pid_t shim = ParentPid(instance->host_pid()); shim > 1)
    timing.host_cpu_seconds += CpuSeconds(shim, true);
  return std::unique_ptr<Instance>(std::move(instance));
}

Result<int> DockerBackend::ReclaimStale() {
  int reclaimed = 0;
  if (Probe().usable) {
    json filters = {{"label", json::array({std::string(kLabel) + "=1"})}};
    ISO_ASSIGN_OR_RETURN(json list, daemon_->Call("GET", "/containers/json?all=1&filters=" +
                                                             UrlEncode(filters.dump())));
    for (const auto& c : list) {
      json labels = c.value("Labels", json::object());
      if (!labels.is_object()) continue;
      std::string run = labels.value(kLabelRun, ""), owner = labels.value(kLabelOwner, "");
      if (run.empty() || owner.empty() || run == context_.run_id) continue;
      // Ours only: the name this backend gives, as well as the labels.
      bool named = false;
      for (const auto& n : c.value("Names", json::array()))
        if (n.is_string() && n.get<std::string>().rfind("/isobench-" + run + "-", 0) == 0)
          named = true;
      if (!named || OwnerIsLive(owner)) continue;
      std::string id = c.value("Id", "");
      auto removed = daemon_->Call("DELETE", "/containers/" + id + "?force=1&v=1", nullptr, true);
      if (removed.ok())
        ++reclaimed;
      else
        ISO_LOG(kWarning) << "docker: reclaiming " << id << ": " << removed.error().message();
    }
  }
  DIR* dir = ::opendir(base_dir_.c_str());
  if (dir == nullptr) return reclaimed;
  std::vector<std::string> stale;
  while (struct dirent* e = ::readdir(dir)) {
    std::string run = e->d_name;
    if (run[0] == '.' || run == context_.run_id) continue;
    std::string path = base_dir_ + "/" + run;
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
    auto owner = harness::ReadFile(path + "/owner");
    if (!owner.ok() || !OwnerIsLive(*owner)) stale.push_back(path);
  }
  ::closedir(dir);
  for (const auto& path : stale) {
    auto removed = harness::RemoveTree(path);
    if (removed.ok())
      ++reclaimed;
    else
      ISO_LOG(kWarning) << "docker: removing " << path << ": " << removed.error().message();
  }
  return reclaimed;
}

}  // namespace

harness::BackendTraits DockerTraits() {
  harness::BackendTraits t;
  t.kind = harness::BackendTraits::Kind::kContainer;
  t.runtime_default_profile = true;  // docker.default_spec: the config it hands runc
  return t;
}

Result<std::unique_ptr<harness::Backend>> MakeDockerBackend(const BackendContext& context) {
  return std::unique_ptr<harness::Backend>(new DockerBackend(context));
}

void RegisterDockerBackend(harness::BackendRegistry& registry) {
  registry.Register("docker", "Docker Engine containers through its REST API (unix socket)",
                    DockerTraits(), [](const BackendContext& c) { return MakeDockerBackend(c); });
}

}  // namespace isobench::container::docker
