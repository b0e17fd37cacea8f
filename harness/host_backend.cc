#include "harness/host_backend.h"

#include <sys/socket.h>
#include <unistd.h>

#include "harness/agent_client.h"
#include "harness/child_process.h"
#include "harness/procfs.h"

namespace isobench::harness {

BackendTraits HostTraits() {
  BackendTraits t;
  t.kind = BackendTraits::Kind::kHost;
  t.role = BackendTraits::Role::kFloor;
  return t;
}

namespace {

class HostInstance : public Instance {
 public:
  HostInstance(std::string name, ChildProcess child, AgentClient agent, StartupTiming timing)
      : name_(std::move(name)),
        child_(std::move(child)),
        agent_(std::move(agent)),
        timing_(std::move(timing)) {}
  ~HostInstance() override { (void)Destroy(); }

  const std::string& name() const override { return name_; }
  const StartupTiming& startup() const override { return timing_; }
  pid_t host_pid() const override { return child_.pid(); }
  Result<nlohmann::json> Call(nlohmann::json request, std::chrono::milliseconds timeout) override {
    return agent_.Call(std::move(request), timeout);
  }
  Result<ResourceUsage> Usage() override {
    ResourceUsage usage;
    ISO_ASSIGN_OR_RETURN(usage.pss_bytes, ProcessPssBytes(child_.pid()));
    ISO_ASSIGN_OR_RETURN(usage.cpu_seconds, ProcessCpuSeconds(child_.pid(), true));
    usage.pids = 1;
    usage.memory_missing = "the host floor's agent runs in the harness's own cgroup";
    return usage;
  }
  Result<void> Destroy() override {
    agent_.Close();  // the agent exits when its channel closes
    child_.Kill();
    return {};
  }

 private:
  std::string name_;
  ChildProcess child_;
  AgentClient agent_;
  StartupTiming timing_;
};

}  // namespace

Availability HostBackend::Probe() {
  std::string agent = context_.image.rootfs + GuestImage::kAgentPath;
  if (::access(agent.c_str(), X_OK) != 0) return {false, "agent `" + agent + "` is missing"};
  return {true, ""};
}

Result<std::unique_ptr<Instance>> HostBackend::Create(const InstanceSpec& spec) {
  auto start = Clock::now();
  ISO_RETURN_IF_ERROR(ValidateInstanceName(spec.name));
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    return Error::Errno("socketpair");
  Fd host(sv[0]), guest(sv[1]);
  ChildProcess::SpawnOptions options;
  options.fds = {{guest.get(), 3}};
  ISO_ASSIGN_OR_RETURN(
      ChildProcess child,
      ChildProcess::Spawn({context_.image.rootfs + GuestImage::kAgentPath, "--channel-fd", "3"},
                          options));
  auto spawned = Clock::now();
  guest.Reset();
  AgentClient agent(std::move(host));
  ISO_RETURN_IF_ERROR(agent.WaitReady(start + std::chrono::seconds(10)));
  StartupTiming timing;
  timing.phases = {{"spawn", SecondsBetween(start, spawned)},
                   {"ready", SecondsBetween(start, agent.ready_at())}};
  timing.ready_seconds = SecondsBetween(start, agent.ready_at());
  return std::unique_ptr<Instance>(
      new HostInstance(spec.name, std::move(child), std::move(agent), std::move(timing)));
}

}  // namespace isobench::harness
