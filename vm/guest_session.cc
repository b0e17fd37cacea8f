#include "vm/guest_session.h"

#include "vm/unix_socket.h"

namespace isobench::vm {

using harness::Clock;
using harness::Error;
using harness::Phase;
using harness::Result;

Result<std::unique_ptr<GuestSession>> GuestSession::Connect(const std::string& console_socket,
                                                            const std::string& channel_socket,
                                                            Clock::time_point deadline) {
  std::unique_ptr<GuestSession> session(new GuestSession());
  ISO_ASSIGN_OR_RETURN(harness::Fd console,
                       ConnectUnixSocket(console_socket, deadline).Context("guest console"));
  session->console_ = std::make_unique<ConsoleReader>(
      std::move(console),
      std::vector<ConsoleReader::Marker>{{"kernel", kKernelMarker}, {"init", kInitMarker}});
  ISO_ASSIGN_OR_RETURN(harness::Fd channel,
                       ConnectUnixSocket(channel_socket, deadline).Context("agent channel"));
  session->agent_ = harness::AgentClient(std::move(channel));
  return session;
}

std::string GuestSession::ConsoleTailForError(size_t max_bytes) const {
  if (!console_) return "";
  std::string tail = console_->Tail(max_bytes);
  if (tail.empty()) return "\n--- console: no output ---";
  return "\n--- console (last " + std::to_string(tail.size()) + " bytes) ---\n" + tail;
}

Result<void> GuestSession::WaitReady(Clock::time_point deadline,
                                     std::function<Result<void>()> alive) {
  std::lock_guard<std::timed_mutex> lock(mu_);
  agent_.SetLiveness(std::move(alive));
  auto ready = agent_.WaitReady(deadline);
  agent_.SetLiveness(nullptr);
  if (!ready.ok()) {
    Error error = std::move(ready).error();
    return Error(error.message() + ConsoleTailForError(), error.errno_value());
  }
  return {};
}

harness::StartupTiming GuestSession::Timing(Clock::time_point start,
                                            std::vector<Phase> launcher) const {
  harness::StartupTiming timing;
  timing.phases = std::move(launcher);
  auto ready = agent_.ready_at();
  // The agent writes its init line to the console before its ready line to the channel;
  // the console thread may not have consumed it yet when ready arrives.
  if (console_) console_->WaitForMarker("init", Clock::now() + std::chrono::milliseconds(300));
  auto add = [&](const char* name, std::optional<Clock::time_point> at) {
    if (at && *at <= ready) timing.phases.push_back({name, harness::SecondsBetween(start, *at)});
  };
  if (console_) {
    add("first_console_byte", console_->FirstByteAt());
    add("kernel", console_->MarkerAt("kernel"));
    add("init", console_->MarkerAt("init"));
  }
  timing.ready_seconds = harness::SecondsBetween(start, ready);
  timing.phases.push_back({"ready", timing.ready_seconds});
  return timing;
}

Result<nlohmann::json> GuestSession::Call(nlohmann::json request,
                                          std::chrono::milliseconds timeout) {
  std::lock_guard<std::timed_mutex> lock(mu_);
  return agent_.Call(std::move(request), timeout);
}

Result<void> GuestSession::RequestShutdown(std::chrono::milliseconds timeout) {
  std::unique_lock<std::timed_mutex> lock(mu_, std::defer_lock);
  // A call stuck in another thread must not keep Destroy waiting forever.
  if (!lock.try_lock_for(timeout)) return Error("agent channel busy", EBUSY);
  if (!agent_.connected()) return Error("agent channel is closed", EPIPE);
  auto reply = agent_.Call({{"op", "shutdown"}}, timeout);
  // EPIPE: the guest powered off before its reply made it out — that is success. No
  // reply in time means an agent that will not power anything off.
  if (!reply.ok() && reply.error().errno_value() != EPIPE) return std::move(reply).error();
  return {};
}

void GuestSession::Close() {
  if (console_) console_->Stop();
  agent_.Close();
}

Error ReadyTimeoutError(std::chrono::milliseconds ready_timeout, const Error& cause) {
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(ready_timeout).count();
  return Error("agent not ready after " + std::to_string(seconds) + " s (vm.ready_timeout_s); " +
                   cause.message(),
               ETIMEDOUT);
}

}  // namespace isobench::vm
