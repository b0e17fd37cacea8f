// Host side of the agent's control channel: JSON lines over a connected stream
// (a socketpair for containers, a unix socket to the VM's serial port for VMs).
//
//   AgentClient agent(std::move(channel_fd));
//   agent.SetLiveness([&] { return child_alive ? Result<void>() : Error("init died"); });
//   ISO_ASSIGN_OR_RETURN(auto ready, agent.WaitReady(deadline));
//   Clock::time_point t = agent.ready_at();            // arrival of the ready line
//   ISO_ASSIGN_OR_RETURN(auto reply, agent.Call({{"op", "info"}}, 5s));
//
// Protocol (one JSON object per line, both ways; see agent/protocol.md):
//   agent -> host  {"event":"ready", ...}                      once, first
//   host  -> agent {"id":N, "op":"exec"|"info"|"ping"|"shutdown", ...}
//   agent -> host  {"id":N, "ok":true, ...} | {"id":N, "ok":false, "error":"..."}
// Lines that do not start with '{' are ignored (a serial line may carry noise), lines
// longer than kMaxLineBytes are an error, so a flooding guest cannot exhaust the host.
#pragma once

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "harness/backend.h"
#include "harness/error.h"
#include "harness/fd.h"

namespace isobench::harness {

class AgentClient {
 public:
  static constexpr size_t kMaxLineBytes = 16u << 20;

  AgentClient() = default;
  explicit AgentClient(Fd channel);

  // Called every poll slice while waiting; an error aborts the wait (e.g. "init exited").
  void SetLiveness(std::function<Result<void>()> check) { liveness_ = std::move(check); }
  // Every raw line received (for console/diagnostic capture); optional.
  void SetLineObserver(std::function<void(const std::string&)> observer) {
    observer_ = std::move(observer);
  }

  // Waits for {"event":"ready"}; records its arrival time on the host clock.
  Result<nlohmann::json> WaitReady(Clock::time_point deadline);
  Clock::time_point ready_at() const { return ready_at_; }

  // Sends `request` with a fresh id and waits for the reply with that id. A reply with
  // "ok": false becomes an Error carrying the agent's message.
  Result<nlohmann::json> Call(nlohmann::json request, std::chrono::milliseconds timeout);
  // Sends without waiting (e.g. shutdown of a VM that powers off before replying).
  Result<void> Send(nlohmann::json request);

  bool connected() const { return fd_.valid(); }
  int fd() const { return fd_.get(); }
  void Close() { fd_.Reset(); }

 private:
  // Next complete line, or an error on timeout/EOF/overflow.
  Result<std::string> ReadLine(Clock::time_point deadline);

  Fd fd_;
  std::string buffer_;
  uint64_t next_id_ = 1;
  Clock::time_point ready_at_{};
  std::function<Result<void>()> liveness_;
  std::function<void(const std::string&)> observer_;
};

}  // namespace isobench::harness
