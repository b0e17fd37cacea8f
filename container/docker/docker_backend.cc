#include "container/docker/docker_backend.h"

#include <net/if.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>

#include "container/cgroup.h"
#include "container/docker/docker_client.h"
#include "container/docker/docker_image.h"
#include "container/docker/docker_spec.h"
#include "container/known_deviations.h"
#include "harness/agent_client.h"
#include "harness/bridge.h"
#include "harness/bridge_guard.h"
#include "harness/fd.h"
#include "harness/log.h"
#include "harness/procfs.h"
#include "harness/registry.h"
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

// utime + stime (+ the reaped children's, for a shim whose runc has exited); 0 when gone.
double CpuSeconds(pid_t pid, bool with_children) {
  auto seconds = harness::ProcessCpuSeconds(pid, with_children);
  return seconds.ok() ? *seconds : 0;
}

pid_t ParentPid(pid_t pid) {
  auto stat = harness::ReadProcStat(pid);
  return stat.ok() ? stat->ppid : 0;
}

using harness::OwnerIsLive;
using harness::OwnerOfThisProcess;

uint64_t PssBytes(pid_t pid) {
  auto pss = harness::ProcessPssBytes(pid);
  return pss.ok() ? *pss : 0;
}

// pids of the daemons by command name (dockerd, containerd), for host CPU accounting.
std::vector<pid_t> DaemonPids() {
  auto pids = harness::PidsByComm({"dockerd", "containerd"});
  if (!pids.ok()) ISO_LOG(kWarning) << "docker: daemon pids: " << pids.error().message();
  return pids.ok() ? *pids : std::vector<pid_t>();
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
                 std::string dir, std::shared_ptr<CgroupMountsCache> cgroups)
      : daemon_(std::move(daemon)),
        name_(std::move(name)),
        container_name_(std::move(container_name)),
        dir_(std::move(dir)),
        cgroups_(std::move(cgroups)) {}
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
  std::optional<harness::NetworkEndpoint> endpoint() const override { return endpoint_; }
  // On the run's bridge network: Inspect() reads the address the daemon gave.
  void SetNetwork(std::string network, std::string bridge) {
    network_ = std::move(network);
    bridge_ = std::move(bridge);
  }

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
  // The container's port on the run's bridge (its veth's host end, found by the index
  // eth0's peer has: /sys/class/net/eth0/iflink as the container sees it) guarded, or
  // exempt without `guard` (bridge_guard.h). Docker made the pair when it started the
  // container: the agent runs, nothing of the harness's has used the network yet.
  Result<void> GuardPort(bool guard);
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
  std::shared_ptr<CgroupMountsCache> cgroups_;  // the backend's
  std::string id_;
  bool destroyed_ = false;
  pid_t pid_ = -1;
  Fd pidfd_;
  Fd listener_;
  harness::AgentClient agent_;
  harness::StartupTiming timing_;
  std::string network_, bridge_;
  std::optional<harness::NetworkEndpoint> endpoint_;
  std::string exempt_address_;  // exempted from the bridge's guard (network_guard off)
};

Result<void> DockerInstance::GuardPort(bool guard) {
  if (!endpoint_) return {};
  const std::string iflink = "/proc/" + std::to_string(pid_) + "/root/sys/class/net/eth0/iflink";
  ISO_ASSIGN_OR_RETURN(std::string text, harness::ReadFile(iflink));
  unsigned index = static_cast<unsigned>(std::strtoul(text.c_str(), nullptr, 10));
  char name[IF_NAMESIZE] = {};
  if (index == 0 || ::if_indextoname(index, name) == nullptr)
    return Error("docker: the host end of " + container_name_ + "'s eth0 (ifindex `" + text +
                     "` from " + iflink + ") is not a link of the host",
                 ENODEV);
  if (!guard) exempt_address_ = endpoint_->address;
  return harness::GuardInstancePort(bridge_, name, endpoint_->address, guard)
      .Context("docker: " + container_name_ + "'s port on " + bridge_);
}

Result<void> DockerInstance::CreateContainer(const json& body) {
  ISO_ASSIGN_OR_RETURN(
      json created,
      daemon_->Call("POST", "/containers/create?name=" + UrlEncode(container_name_), body));
  id_ = created.is_object() ? created.value("Id", "") : "";
  if (id_.empty()) return Error("docker: POST /containers/create: no Id in the reply", EPROTO);
  // The daemon drops a limit its host cannot apply ("Your kernel does not support Block
  // I/O weight or the cgroup is not mounted. Weight discarded.") and says so only here:
  // a discarded limit fails the instance rather than running it unlimited.
  const json warnings = created.value("Warnings", json());
  if (warnings.is_array())
    for (const json& w : warnings) {
      if (!w.is_string()) continue;
      const std::string text = w.get<std::string>();
      if (text.find("discarded") != std::string::npos)
        return Error("docker: " + container_name_ + ": the daemon discarded a limit: " + text,
                     ENOTSUP);
      ISO_LOG(kWarning) << "docker: " << container_name_ << ": " << text;
    }
  return {};
}

Result<void> DockerInstance::Inspect() {
  ISO_ASSIGN_OR_RETURN(json info, daemon_->Call("GET", "/containers/" + id_ + "/json"));
  json state = info.value("State", json::object());
  pid_ = state.value("Pid", 0);
  if (!network_.empty()) {
    json net = info.value("NetworkSettings", json::object()).value("Networks", json::object());
    json mine = net.is_object() ? net.value(network_, json::object()) : json::object();
    std::string address = mine.is_object() ? mine.value("IPAddress", "") : "";
    std::string gateway = mine.is_object() ? mine.value("Gateway", "") : "";
    if (address.empty() || gateway.empty())
      return Error(
          "docker: container " + container_name_ + " has no address on network " + network_,
          EPROTO);
    endpoint_ = harness::NetworkEndpoint{address, gateway, bridge_};
  }
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
  if (!exempt_address_.empty()) {
    auto guarded = harness::UnexemptFromGuard(bridge_, exempt_address_);
    if (!guarded.ok() && result.ok()) result = std::move(guarded).error();
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
  // The container's cgroup files, as the daemon's stats endpoint reads them, without
  // the endpoint's wait: with stream=false it answers on the stats collector's next
  // one-second tick (one-shot only spares the first call). The endpoint only when the
  // container's cgroup is not visible here (a remote daemon).
  std::unique_ptr<Cgroup> cgroup;
  if (pid_ > 0) {
    auto mounts = cgroups_->Get();
    auto opened = mounts.ok() ? OpenCgroupOf(pid_, *mounts) : std::move(mounts).error();
    if (opened.ok()) cgroup = std::move(opened).value();
  }
  harness::ResourceUsage usage;
  if (cgroup) {
    // Includes the PSS of every process in the cgroup.
    ISO_ASSIGN_OR_RETURN(usage, ReadInstanceUsage(*cgroup).Context("docker: usage of " + name_));
  } else {
    // one-shot: the daemon would otherwise sample twice, a second apart, for precpu_stats.
    ISO_ASSIGN_OR_RETURN(json stats, daemon_->Call("GET", "/containers/" + id_ +
                                                              "/stats?stream=false&one-shot=true"));
    usage = UsageFromStats(stats);
    // The daemon's reading of the container's cgroup.
    usage.memory_cgroup = stats.value("memory_stats", json::object()).contains("usage");
    usage.memory_missing =
        "the container's cgroup is not visible here, and the daemon's stats give no kernel memory";
    if (pid_ > 0) usage.pss_bytes += PssBytes(pid_);
  }
  // Plus the PSS of the container's monitor (the shim).
  if (pid_ > 0) {
    pid_t shim = ParentPid(pid_);
    if (shim > 1) usage.pss_bytes += PssBytes(shim);
  }
  return usage;
}

class DockerBackend : public harness::Backend {
 public:
  explicit DockerBackend(BackendContext context)
      : context_(std::move(context)),
        base_dir_(context_.workdir + "/docker"),
        run_dir_(base_dir_, context_.run_id) {}

  ~DockerBackend() override { RemoveNetwork(); }

  std::string name() const override { return "docker"; }
  harness::BackendTraits traits() const override { return DockerTraits(); }
  Availability Probe() override;
  std::map<std::string, std::string> Describe() override;
  Result<std::unique_ptr<Instance>> Create(const InstanceSpec& spec) override;
  Result<int> ReclaimStale() override;
  Result<harness::ImagePull> Pull(const std::string& reference) override;
  Result<int> EvictImages() override;
  Result<std::vector<std::string>> ImageLayerDirs(const std::string& reference) override;

 private:
  Result<void> Connect();
  Result<std::string> RunDir();
  Result<std::string> SaveDefaultSpec();
  Result<NetworkParams> EnsureNetwork();
  void RemoveNetwork();
  std::string DeadRunOf(const json& object) const;

  BackendContext context_;
  std::string base_dir_;
  // <base_dir_>/<run id>: released when the backend goes (each instance removes its own).
  harness::RunDirectory run_dir_;
  std::shared_ptr<Daemon> daemon_;
  std::optional<Availability> availability_;
  std::string socket_path_;
  DockerImage image_;
  json info_;
  std::vector<pid_t> daemon_pids_;
  std::optional<std::string> default_spec_path_;
  std::shared_ptr<CgroupMountsCache> cgroups_ = std::make_shared<CgroupMountsCache>();
  bool daemon_missing_ = false;           // nothing answers on the daemon's socket
  std::optional<NetworkParams> network_;  // the run's bridge network, once made
  std::mutex pulled_mu_;
  std::set<std::string> pulled_;  // registry images this backend pulled
};

Result<harness::ImagePull> DockerBackend::Pull(const std::string& reference) {
  Availability availability = Probe();
  if (!availability.usable)
    return Error("docker backend is not usable: " + availability.reason, ENODEV);
  auto t0 = Clock::now();
  ISO_ASSIGN_OR_RETURN(PullOutcome outcome, daemon_->With([&](DockerClient& c) {
    return PullFromRegistry(c, reference);
  }));
  harness::ImagePull pull;
  pull.reference = reference;
  pull.seconds = harness::SecondsBetween(t0, Clock::now());
  pull.digest = outcome.digest;
  // An image already up to date is not listed layer by layer: its count stays unknown.
  pull.layers = outcome.layers_fetched + outcome.layers_present;
  pull.layers_fetched = outcome.layers_fetched;
  pull.layers_unpacked = outcome.layers_fetched;
  std::lock_guard<std::mutex> lock(pulled_mu_);
  pulled_.insert(reference);
  return pull;
}

// overlay2 keeps an image's top layer in UpperDir and the ones below in LowerDir.
Result<std::vector<std::string>> DockerBackend::ImageLayerDirs(const std::string& reference) {
  Availability availability = Probe();
  if (!availability.usable)
    return Error("docker backend is not usable: " + availability.reason, ENODEV);
  ISO_ASSIGN_OR_RETURN(json image,
                       daemon_->Call("GET", "/images/" + UrlEncode(reference) + "/json"));
  json driver = image.value("GraphDriver", json::object());
  if (driver.value("Name", "") != "overlay2")
    return Error("docker: storage driver `" + driver.value("Name", "?") +
                     "`: its layer directories are not known here (overlay2 only)",
                 EOPNOTSUPP);
  json data = driver.value("Data", json::object());
  std::vector<std::string> dirs;
  std::string upper = data.value("UpperDir", "");
  if (!upper.empty()) dirs.push_back(upper);
  std::string lower = data.value("LowerDir", "");
  for (size_t begin = 0; begin < lower.size();) {
    size_t end = std::min(lower.find(':', begin), lower.size());
    dirs.push_back(lower.substr(begin, end - begin));
    begin = end + 1;
  }
  if (dirs.empty()) return Error("docker: `" + reference + "` names no layer directories", EPROTO);
  return dirs;
}

Result<int> DockerBackend::EvictImages() {
  Availability availability = Probe();
  if (!availability.usable)
    return Error("docker backend is not usable: " + availability.reason, ENODEV);
  {
    std::lock_guard<std::mutex> lock(pulled_mu_);
    pulled_.clear();
  }
  return daemon_->With(
      [&](DockerClient& c) { return RemoveRegistryImages(c, harness::RegistryAddress()); });
}

// Made on the first instance that asks for network "bridge"; removed with the backend
// (or by a later run's ReclaimStale when this one crashed). Its subnet is one /24 of
// the Docker range (harness/bridge.h): a slot taken by another network (another run's)
// is skipped.
Result<NetworkParams> DockerBackend::EnsureNetwork() {
  if (network_) {
    ISO_RETURN_IF_ERROR(harness::ConfineLink(network_->bridge));
    ISO_RETURN_IF_ERROR(harness::GuardBridge(network_->bridge));
    return *network_;
  }
  if (!daemon_) return Error("docker: no daemon connection", ENOTCONN);
  uint32_t seed = 0;
  for (char c : context_.run_id) seed = seed * 131 + static_cast<unsigned char>(c);
  std::string last_error;
  for (int attempt = 0; attempt < 16; ++attempt) {
    NetworkParams n = RunNetwork(context_.run_id, static_cast<int>((seed + attempt * 97) % 65536));
    if (harness::LinkExists(n.bridge)) continue;
    auto made = daemon_->Call("POST", "/networks/create",
                              NetworkCreateBody(n, context_.run_id, OwnerOfThisProcess()));
    if (!made.ok()) {
      last_error = made.error().message();
      // Another network's subnet or name (another backend of this run): the next slot.
      if (last_error.find("overlap") != std::string::npos ||
          last_error.find("already exists") != std::string::npos)
        continue;
      return std::move(made).error().Context("docker: making the run's network " + n.name);
    }
    network_ = n;
    ISO_RETURN_IF_ERROR(harness::ConfineLink(n.bridge));
    ISO_RETURN_IF_ERROR(harness::GuardBridge(n.bridge));
    return n;
  }
  return Error("docker: no free /24 in " + harness::CurrentDockerSubnet().cidr +
                   " for the run's network: " + last_error,
               EADDRINUSE);
}

void DockerBackend::RemoveNetwork() {
  if (!network_ || !daemon_) return;
  auto removed = daemon_->Call("DELETE", "/networks/" + UrlEncode(network_->name), nullptr, true);
  if (!removed.ok())
    ISO_LOG(kWarning) << "docker: removing network " << network_->name << ": "
                      << removed.error().message();
  auto unguarded = harness::UnguardBridge(network_->bridge);
  if (!unguarded.ok()) ISO_LOG(kWarning) << "docker: " << unguarded.error().message();
  network_.reset();
}

Result<void> DockerBackend::Connect() {
  std::string host = Option(context_, "docker.host", "");
  ISO_ASSIGN_OR_RETURN(socket_path_, DockerSocketPath(host));
  auto client = DockerClient::Connect(socket_path_);
  if (!client.ok()) {
    // Nothing answers (absent), unlike a daemon that answers with an error (EPROTO).
    daemon_missing_ = client.error().errno_value() != EPROTO;
    return std::move(client).error();
  }
  daemon_ = std::make_shared<Daemon>(std::move(std::move(client).value()));
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
    availability_ = Availability{false, connected.error().message(), daemon_missing_};
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

Result<std::string> DockerBackend::RunDir() { return run_dir_.Ensure(); }

Result<std::unique_ptr<Instance>> DockerBackend::Create(const InstanceSpec& spec) {
  // The image is built (once) by Probe(), before the clock starts, as the other
  // backends' images are built before theirs; so is the run's network.
  Availability availability = Probe();
  std::optional<NetworkParams> network;
  if (spec.network == "bridge" && availability.usable) {
    ISO_ASSIGN_OR_RETURN(network, EnsureNetwork());
  }
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
  std::vector<harness::Phase> pull_phase;
  if (!spec.image.empty()) {
    // As `docker run` does: pulled first when this backend has not pulled it.
    bool pulled;
    {
      std::lock_guard<std::mutex> lock(pulled_mu_);
      pulled = pulled_.count(spec.image) > 0;
    }
    if (!pulled) ISO_RETURN_IF_ERROR(Pull(spec.image));
    params.image = spec.image;
    pull_phase.push_back({"pull", harness::SecondsBetween(start, Clock::now())});
  }
  params.run_id = context_.run_id;
  params.owner = OwnerOfThisProcess();
  params.channel_dir = dir;
  if (network) params.network = network->name;
  ISO_ASSIGN_OR_RETURN(json body, ContainerCreateBody(spec, params));

  ISO_RETURN_IF_ERROR(harness::MakeDirs(dir, 0700));
  auto instance = std::make_unique<DockerInstance>(
      daemon_, spec.name, ContainerName(context_.run_id, spec.name), dir, cgroups_);
  if (network) instance->SetNetwork(network->name, network->bridge);
  ISO_RETURN_IF_ERROR(instance->Listen());
  ISO_RETURN_IF_ERROR(instance->CreateContainer(body));
  auto created = Clock::now();
  ISO_RETURN_IF_ERROR(instance->Start());
  auto started = Clock::now();
  ISO_RETURN_IF_ERROR(instance->Inspect());
  ISO_RETURN_IF_ERROR(instance->GuardPort(spec.profile.network_guard));
  auto inspected = Clock::now();
  int timeout_ms = std::atoi(Option(context_, "docker.ready_timeout_ms", "20000").c_str());
  auto deadline = start + std::chrono::milliseconds(timeout_ms);
  ISO_RETURN_IF_ERROR(instance->Accept(deadline));
  auto connected = Clock::now();
  ISO_RETURN_IF_ERROR(instance->WaitReady(deadline));

  harness::StartupTiming& timing = instance->timing();
  auto ready = instance->ready_at();
  timing.phases = pull_phase;
  timing.phases.insert(timing.phases.end(),
                       {{"create", harness::SecondsBetween(start, created)},
                        {"start", harness::SecondsBetween(start, started)},
                        {"inspect", harness::SecondsBetween(start, inspected)},
                        {"connected", harness::SecondsBetween(start, connected)},
                        {"ready", harness::SecondsBetween(start, ready)}});
  timing.ready_seconds = harness::SecondsBetween(start, ready);
  // dockerd and containerd's share, plus the instance's own shim (and the runc it ran).
  timing.host_cpu_seconds = DaemonCpuSeconds(daemon_pids_) - daemon_cpu_before;
  if (pid_t shim = ParentPid(instance->host_pid()); shim > 1)
    timing.host_cpu_seconds += CpuSeconds(shim, true);
  return std::unique_ptr<Instance>(std::move(instance));
}

// The run id an object of ours (container or network) was labelled with, when that run
// is another one and its owner is gone; empty otherwise (not ours, this run's, or live).
std::string DockerBackend::DeadRunOf(const json& object) const {
  json labels = object.value("Labels", json::object());
  if (!labels.is_object()) return "";
  std::string run = labels.value(kLabelRun, ""), owner = labels.value(kLabelOwner, "");
  if (run.empty() || owner.empty() || run == context_.run_id || OwnerIsLive(owner)) return "";
  return run;
}

Result<int> DockerBackend::ReclaimStale() {
  int reclaimed = 0;
  if (Probe().usable) {
    json filters = {{"label", json::array({std::string(kLabel) + "=1"})}};
    ISO_ASSIGN_OR_RETURN(json list, daemon_->Call("GET", "/containers/json?all=1&filters=" +
                                                             UrlEncode(filters.dump())));
    for (const auto& c : list) {
      std::string run = DeadRunOf(c);
      if (run.empty()) continue;
      // Ours only: the name this backend gives, as well as the labels.
      bool named = false;
      for (const auto& n : c.value("Names", json::array()))
        if (n.is_string() && n.get<std::string>().rfind("/isobench-" + run + "-", 0) == 0)
          named = true;
      if (!named) continue;
      std::string id = c.value("Id", "");
      auto removed = daemon_->Call("DELETE", "/containers/" + id + "?force=1&v=1", nullptr, true);
      if (removed.ok())
        ++reclaimed;
      else
        ISO_LOG(kWarning) << "docker: reclaiming " << id << ": " << removed.error().message();
    }
    // The networks of those runs: labelled ours and named as ours.
    auto networks = daemon_->Call("GET", "/networks?filters=" + UrlEncode(filters.dump()));
    if (networks.ok() && networks->is_array()) {
      for (const auto& n : *networks) {
        std::string run = DeadRunOf(n);
        const std::string name = n.value("Name", "");
        if (run.empty() ||
            (name != "isobench-" + run && name.rfind("isobench-" + run + "-isbd", 0) != 0))
          continue;
        auto removed =
            daemon_->Call("DELETE", "/networks/" + n.value("Id", std::string()), nullptr, true);
        if (removed.ok())
          ++reclaimed;
        else
          ISO_LOG(kWarning) << "docker: reclaiming network " << n.value("Name", "") << ": "
                            << removed.error().message();
      }
    }
  }
  // The guards of bridges that went with those networks (or with a crashed run's).
  auto guards = harness::ReclaimStaleGuards();
  if (guards.ok())
    reclaimed += *guards;
  else
    ISO_LOG(kWarning) << "docker: " << guards.error().message();
  for (const std::string& path : harness::StaleRunDirs(base_dir_, context_.run_id)) {
    auto removed = harness::RemoveRunTree(path);
    if (removed.ok())
      reclaimed += 1 + *removed;
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
  t.bridge_network = true;           // the run's own bridge network (docker_spec.h)
  t.registry_images = true;          // the daemon pulls (POST /images/create)
  return t;
}

Result<std::unique_ptr<harness::Backend>> MakeDockerBackend(const BackendContext& context) {
  return std::unique_ptr<harness::Backend>(new DockerBackend(context));
}

void RegisterDockerBackend(harness::BackendRegistry& registry) {
  registry.Register(
      "docker", "Docker Engine containers through its REST API (unix socket)", DockerTraits(),
      [](const BackendContext& c) { return MakeDockerBackend(c); }, DockerDeviations());
}

}  // namespace isobench::container::docker
