// The host end of a booting guest: its console (ttyS0) read in the background with
// timestamps, and its agent channel (ttyS1) as an AgentClient. Shared by the libvirt
// backend and the bare-qemu reference launcher, which differ only in how qemu starts.
//
//   auto start = Clock::now();
//   ... start qemu, whose serial ports listen on console_socket / channel_socket ...
//   ISO_ASSIGN_OR_RETURN(auto session, GuestSession::Connect(console_socket, channel_socket,
//                                                            Clock::now() + 5s));
//   ISO_RETURN_IF_ERROR(session->WaitReady(start + 60s, [&] { return QemuStillRuns(); }));
//   StartupTiming timing = session->Timing(start, {{"domain_created", 0.41}});
//   ISO_ASSIGN_OR_RETURN(auto reply, session->Call({{"op", "info"}}, 5s));
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "harness/agent_client.h"
#include "harness/backend.h"
#include "harness/error.h"
#include "vm/console.h"

namespace isobench::vm {

class GuestSession {
 public:
  // Connects to both sockets (retrying until they exist and listen, up to `deadline`)
  // and starts reading the console.
  static harness::Result<std::unique_ptr<GuestSession>> Connect(
      const std::string& console_socket, const std::string& channel_socket,
      harness::Clock::time_point deadline);

  // Waits for the agent's ready line. `alive` is asked between poll slices and aborts the
  // wait with its error (qemu exited, domain stopped). A failure's message ends with the
  // console's tail, which is where a kernel panic or a missing /init shows.
  harness::Result<void> WaitReady(harness::Clock::time_point deadline,
                                  std::function<harness::Result<void>()> alive);

  // Phases in seconds after `start`: `launcher` (e.g. domain_created) first, then
  // first_console_byte, kernel, init (from the console) and ready. A console phase that
  // was never seen is left out rather than invented.
  harness::StartupTiming Timing(harness::Clock::time_point start,
                                std::vector<harness::Phase> launcher) const;

  // One request to the agent, serialised with other callers.
  harness::Result<nlohmann::json> Call(nlohmann::json request, std::chrono::milliseconds timeout);
  // Asks the agent to power the guest off. Success when it replied, or when the channel
  // closed first (the guest powered off before the reply got out); an error when it did
  // not answer within `timeout`.
  harness::Result<void> RequestShutdown(std::chrono::milliseconds timeout);

  ConsoleReader& console() { return *console_; }
  harness::Clock::time_point ready_at() const { return agent_.ready_at(); }
  // "\n--- console (last N bytes) ---\n..." for error messages.
  std::string ConsoleTailForError(size_t max_bytes = 3000) const;

  // Stops the console thread and closes both sockets. Idempotent.
  void Close();

 private:
  GuestSession() = default;
  std::unique_ptr<ConsoleReader> console_;
  std::timed_mutex mu_;
  harness::AgentClient agent_;
};

// "agent not ready after N s (vm.ready_timeout_s); <cause>", ETIMEDOUT: how both VM
// backends (libvirt and raw qemu) report a guest that did not answer in time.
harness::Error ReadyTimeoutError(std::chrono::milliseconds ready_timeout,
                                 const harness::Error& cause);

}  // namespace isobench::vm
