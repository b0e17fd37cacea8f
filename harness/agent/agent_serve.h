// The agent's request front: line framing and op dispatch, with no I/O of its own, so
// the serve loop in agent.cc and the fuzz target run the same code.
//
//   RequestFramer framer;
//   bool stop = framer.Feed(chunk, handlers,
//                           [&](const nlohmann::json& reply) { WriteLine(fd, reply); });
//
// Every complete line gets exactly one reply: {"id": <id or 0>, "ok": true, ...the
// handler's fields} or {"id", "ok": false, "error"}. Nothing a line contains makes Feed
// throw: in PID 1 an escaping exception is std::terminate and the end of the instance.
#pragma once

#include <cstddef>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace isobench::agent {

// A line longer than this is discarded whole, with one error reply.
inline constexpr size_t kMaxRequestBytes = 16u << 20;

// The op handlers; each returns the reply body (without id/ok) or throws std::exception,
// whose message becomes the error reply. `ping` and `shutdown` need none.
struct OpHandlers {
  std::function<nlohmann::json(const nlohmann::json&)> exec, info, bench, probe, listen;
};

// The reply to one parsed request line; sets *shutdown for the `shutdown` op.
nlohmann::json Dispatch(const nlohmann::json& request, const OpHandlers& handlers, bool* shutdown);

class RequestFramer {
 public:
  using Reply = std::function<void(const nlohmann::json&)>;
  // Takes what one read() returned; answers every line it completes through `reply`.
  // Returns true when a line asked for shutdown: its reply is sent, later lines are not
  // read.
  bool Feed(std::string_view chunk, const OpHandlers& handlers, const Reply& reply);

 private:
  std::string buffer_;
  bool discarding_ = false;  // inside an over-long line, until its newline
};

}  // namespace isobench::agent
