#include "harness/agent_client.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

namespace isobench::harness {

namespace {
constexpr auto kSlice = std::chrono::milliseconds(100);
}

AgentClient::AgentClient(Fd channel) : fd_(std::move(channel)) {
  int flags = ::fcntl(fd_.get(), F_GETFL);
  if (flags >= 0) ::fcntl(fd_.get(), F_SETFL, flags | O_NONBLOCK);
}

Result<std::string> AgentClient::ReadLine(Clock::time_point deadline) {
  if (!fd_.valid()) return Error("agent channel is closed", EPIPE);
  size_t scanned = 0;  // bytes of buffer_ already known to hold no newline
  for (;;) {
    size_t nl = buffer_.find('\n', scanned);
    scanned = buffer_.size();
    if (nl != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (observer_) observer_(line);
      return line;
    }
    if (buffer_.size() > kMaxLineBytes)
      return Error("agent sent a line longer than " + std::to_string(kMaxLineBytes) + " bytes",
                   EMSGSIZE);
    auto now = Clock::now();
    if (now >= deadline) return Error("timed out waiting for the agent", ETIMEDOUT);
    auto wait = std::min<Clock::duration>(deadline - now, kSlice);
    struct pollfd pfd = {fd_.get(), POLLIN, 0};
    int r = ::poll(
        &pfd, 1,
        static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(wait).count()) + 1);
    if (r < 0 && errno != EINTR) return Error::Errno("poll", "agent channel");
    if (r <= 0) {
      if (liveness_) ISO_RETURN_IF_ERROR(liveness_());
      continue;
    }
    char buf[65536];
    ssize_t n = ::read(fd_.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return Error::Errno("read", "agent channel");
    }
    if (n == 0) {
      if (liveness_) ISO_RETURN_IF_ERROR(liveness_());
      return Error("agent closed its control channel", EPIPE);
    }
    buffer_.append(buf, static_cast<size_t>(n));
  }
}

Result<nlohmann::json> AgentClient::WaitReady(Clock::time_point deadline) {
  for (;;) {
    ISO_ASSIGN_OR_RETURN(std::string line, ReadLine(deadline).Context("waiting for ready"));
    if (!line.starts_with('{')) continue;
    auto message = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (message.is_discarded() || !message.is_object()) continue;
    // Not value("event", ""), which throws when a hostile agent sends a non-string.
    auto event = message.find("event");
    if (event != message.end() && event->is_string() &&
        event->get_ref<const std::string&>() == "ready") {
      ready_at_ = Clock::now();
      return message;
    }
  }
}

Result<void> AgentClient::Send(nlohmann::json request) {
  if (!fd_.valid()) return Error("agent channel is closed", EPIPE);
  if (!request.contains("id")) request["id"] = next_id_++;
  std::string line = request.dump() + "\n";
  // The channel is non-blocking; a full socket buffer means the agent is not reading.
  std::string_view rest = line;
  auto deadline = Clock::now() + std::chrono::seconds(10);
  while (!rest.empty()) {
    // MSG_NOSIGNAL: a dead agent must give EPIPE, not kill the harness with SIGPIPE.
    ssize_t n = ::send(fd_.get(), rest.data(), rest.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == ENOTSOCK) n = ::write(fd_.get(), rest.data(), rest.size());
    if (n > 0) {
      rest.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR) return Error::Errno("write", "agent channel");
    if (Clock::now() > deadline) return Error("agent is not reading its channel", ETIMEDOUT);
    struct pollfd pfd = {fd_.get(), POLLOUT, 0};
    ::poll(&pfd, 1, 100);
  }
  return {};
}

Result<nlohmann::json> AgentClient::Call(nlohmann::json request,
                                         std::chrono::milliseconds timeout) {
  uint64_t id = next_id_++;
  request["id"] = id;
  // Not value("op", "?"), which throws when "op" is not a string.
  auto op_field = request.find("op");
  std::string op =
      op_field != request.end() && op_field->is_string() ? op_field->get<std::string>() : "?";
  ISO_RETURN_IF_ERROR(Send(request));
  auto deadline = Clock::now() + timeout;
  for (;;) {
    ISO_ASSIGN_OR_RETURN(std::string line, ReadLine(deadline).Context("agent `" + op + "`"));
    if (!line.starts_with('{')) continue;
    auto reply = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (reply.is_discarded() || !reply.is_object()) continue;
    auto it = reply.find("id");
    if (it == reply.end() || !it->is_number_unsigned() || it->get<uint64_t>() != id) continue;
    auto ok = reply.find("ok");
    if (ok == reply.end() || !ok->is_boolean())
      return Error("agent `" + op + "`: reply without \"ok\"", EPROTO);
    if (!ok->get<bool>()) {
      auto err = reply.find("error");
      return Error("agent `" + op + "`: " +
                       (err != reply.end() && err->is_string() ? err->get<std::string>()
                                                               : std::string("failed")),
                   EREMOTEIO);
    }
    return reply;
  }
}

}  // namespace isobench::harness
