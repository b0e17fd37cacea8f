#include "harness/agent/agent_serve.h"

#include <exception>
#include <stdexcept>

namespace isobench::agent {

nlohmann::json Dispatch(const nlohmann::json& request, const OpHandlers& handlers, bool* shutdown) {
  nlohmann::json id = request.contains("id") ? request["id"] : nlohmann::json(0);
  nlohmann::json reply;
  try {
    // Not value("op", ...): it throws type_error on a non-string "op".
    const auto op_field = request.find("op");
    if (op_field == request.end() || !op_field->is_string())
      throw std::runtime_error("missing string field \"op\"");
    const auto& op = op_field->get_ref<const std::string&>();
    auto call = [&](const auto& handler) {
      if (!handler) throw std::runtime_error("op `" + op + "` is not served here");
      return handler(request);
    };
    if (op == "ping")
      reply = nlohmann::json::object();
    else if (op == "exec")
      reply = call(handlers.exec);
    else if (op == "info")
      reply = call(handlers.info);
    else if (op == "bench")
      reply = call(handlers.bench);
    else if (op == "probe")
      reply = call(handlers.probe);
    else if (op == "listen")
      reply = call(handlers.listen);
    else if (op == "shutdown") {
      reply = nlohmann::json::object();
      *shutdown = true;
    } else
      throw std::runtime_error("unknown op `" + op + "`");
    reply["id"] = id;
    reply["ok"] = true;
  } catch (const std::exception& e) {
    reply = {{"id", id}, {"ok", false}, {"error", e.what()}};
  }
  return reply;
}

bool RequestFramer::Feed(std::string_view chunk, const OpHandlers& handlers, const Reply& reply) {
  buffer_.append(chunk);
  size_t start = 0, nl;
  bool shutdown = false;
  while (!shutdown && (nl = buffer_.find('\n', start)) != std::string::npos) {
    std::string_view line(buffer_.data() + start, nl - start);
    start = nl + 1;
    if (discarding_) {
      discarding_ = false;
      continue;
    }
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    nlohmann::json request = nlohmann::json::parse(line, nullptr, false);
    if (request.is_discarded() || !request.is_object()) {
      reply({{"id", 0}, {"ok", false}, {"error", "request is not a JSON object"}});
      continue;
    }
    reply(Dispatch(request, handlers, &shutdown));
  }
  buffer_.erase(0, start);
  if (!shutdown && buffer_.size() > kMaxRequestBytes) {
    buffer_.clear();
    discarding_ = true;
    reply({{"id", 0}, {"ok", false}, {"error", "request line over 16 MiB discarded"}});
  }
  return shutdown;
}

}  // namespace isobench::agent
