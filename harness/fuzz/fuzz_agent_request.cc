// libFuzzer target: the agent's request front — line framing, JSON parse, the
// object/id/op checks and the op dispatch of the serve loop in agent/agent.cc — fed
// arbitrary bytes as the host (or anything that reaches the channel) could send.
//
// Why a mirror and not the agent itself: the serve loop is inlined in the agent's
// main() and its handlers fork (exec), read /proc (info) or run probes, so fuzzing the
// real binary means a fork per input (~1000x slower than libFuzzer needs). This file
// copies the loop body statement for statement (keep it in sync with agent.cc's
// `for (;;)` loop) with the handlers replaced by stubs that do what the real ones do
// with their input before any side effect: read typed fields with nlohmann's at()/
// get<>()/value(), which throw on a wrong type. What must hold: every input gives one
// reply per complete line, each serialisable, and nothing escapes the loop as an
// exception (in PID 1 that would be std::terminate and the end of the instance).
//
// Found: the loop read `request.value("op", std::string())` before its try block, and
// value() throws type_error.302 when "op" is present but not a string ({"op":null},
// {"op":1}): the agent died on such a line. Fixed in agent.cc the same way as here.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

constexpr size_t kMaxRequestBytes = 16u << 20;

// Stubs: the field reads of HandleExec / HandleInfo / HandleBench / HandleProbe.
nlohmann::json StubExec(const nlohmann::json& request) {
  auto argv = request.at("argv").get<std::vector<std::string>>();
  if (argv.empty()) throw std::runtime_error("argv is empty");
  (void)request.value("stdin", std::string());
  (void)request.value("timeout_ms", int64_t{30000});
  if (request.contains("env")) (void)request.at("env").get<std::vector<std::string>>();
  return {{"exit_code", 0}, {"stdout", argv[0]}, {"stderr", ""}, {"timed_out", false}};
}

nlohmann::json StubBench(const nlohmann::json& request) {
  std::string kind = request.at("kind").get<std::string>();
  (void)request.value("iterations", int64_t{1});
  (void)request.value("pages", int64_t{1});
  (void)request.value("bytes", int64_t{1});
  (void)request.value("rounds", int64_t{1});
  return {{"kind", kind}};
}

nlohmann::json StubProbe(const nlohmann::json& request) {
  std::string name = request.at("name").get<std::string>();
  return {{"verdict", "skip"}, {"detail", "unknown probe `" + name + "`"}};
}

struct Channel {
  std::vector<std::string> replies;
  void WriteLine(const nlohmann::json& message) {
    replies.push_back(message.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }
};

// The body of the agent's serve loop after read(): `chunk` is what one read returned.
void Serve(Channel& channel, std::string& buffer, bool& discarding, std::string_view chunk) {
  const std::string mode = "container";
  buffer.append(chunk);
  size_t nl;
  while ((nl = buffer.find('\n')) != std::string::npos) {
    std::string line = buffer.substr(0, nl);
    buffer.erase(0, nl + 1);
    if (discarding) {
      discarding = false;
      continue;
    }
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    nlohmann::json reply;
    nlohmann::json request = nlohmann::json::parse(line, nullptr, false);
    if (request.is_discarded() || !request.is_object()) {
      channel.WriteLine({{"id", 0}, {"ok", false}, {"error", "request is not a JSON object"}});
      continue;
    }
    nlohmann::json id = request.contains("id") ? request["id"] : nlohmann::json(0);
    std::string op = request["op"].is_string() ? request["op"].get<std::string>() : std::string();
    bool shutdown = false;
    try {
      if (!request["op"].is_string()) throw std::runtime_error("missing string field \"op\"");
      if (op == "ping") reply = nlohmann::json::object();
      else if (op == "exec") reply = StubExec(request);
      else if (op == "info") reply = {{"mode", mode}};
      else if (op == "bench") reply = StubBench(request);
      else if (op == "probe") reply = StubProbe(request);
      else if (op == "shutdown") { reply = nlohmann::json::object(); shutdown = true; }
      else throw std::runtime_error("unknown op `" + op + "`");
      reply["id"] = id;
      reply["ok"] = true;
    } catch (const std::exception& e) {
      reply = {{"id", id}, {"ok", false}, {"error", e.what()}};
    }
    channel.WriteLine(reply);
    (void)shutdown;
  }
  if (buffer.size() > kMaxRequestBytes) {
    buffer.clear();
    discarding = true;
    channel.WriteLine({{"id", 0}, {"ok", false}, {"error", "request line over 16 MiB discarded"}});
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The agent reads up to 64 KiB per read(); split the input the same way, and also at
  // 0xfe bytes so the fuzzer can place read boundaries inside lines.
  std::string_view input(reinterpret_cast<const char*>(data), size);
  Channel channel;
  std::string buffer;
  bool discarding = false;
  size_t lines = 0;
  for (char c : input) lines += c == '\n';
  while (!input.empty()) {
    size_t cut = std::min(input.find('\xfe'), std::min<size_t>(input.size(), 65536));
    Serve(channel, buffer, discarding, input.substr(0, cut));
    input.remove_prefix(std::min(input.size(), cut + 1));
  }
  if (channel.replies.size() > lines + 1) __builtin_trap();
  for (const auto& reply : channel.replies)
    if (!nlohmann::json::accept(reply)) __builtin_trap();
  return 0;
}
