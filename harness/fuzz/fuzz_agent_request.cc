// libFuzzer target: the agent's request front (agent/agent_serve.cc: line framing, JSON
// parse, the object/id/op checks and the op dispatch, the very code the agent's serve
// loop runs) fed arbitrary bytes as the host, or anything that reaches the channel,
// could send.
//
// The handlers are stand-ins: the real ones fork (exec), read /proc (info) or run
// probes, a fork per input where libFuzzer needs thousands of inputs a second. Each
// stand-in reads its typed fields the way its handler does (nlohmann's at()/get<>()/
// value(), which throw on a wrong type) before any side effect. What must hold: every
// complete line gets one reply, each serialisable, and nothing escapes as an exception
// (in PID 1 that is std::terminate and the end of the instance).
//
// Found: the loop read `request.value("op", std::string())` outside its try block, and
// value() throws type_error.302 when "op" is present but not a string ({"op":null}).
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "harness/agent/agent_serve.h"

namespace {

using isobench::agent::OpHandlers;

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

const OpHandlers kHandlers{
    .exec = StubExec,
    .info =
        [](const nlohmann::json&) {
          return nlohmann::json{{"mode", "container"}};
        },
    .bench = StubBench,
    .probe = StubProbe,
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The agent reads up to 64 KiB per read(); split the input the same way, and also at
  // 0xfe bytes so the fuzzer can place read boundaries inside lines.
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> replies;
  auto reply = [&](const nlohmann::json& message) {
    replies.push_back(message.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  };
  isobench::agent::RequestFramer framer;
  size_t lines = 0;
  for (char c : input) lines += c == '\n';
  while (!input.empty()) {
    size_t cut = std::min(input.find('\xfe'), std::min<size_t>(input.size(), 65536));
    if (framer.Feed(input.substr(0, cut), kHandlers, reply)) break;
    input.remove_prefix(std::min(input.size(), cut + 1));
  }
  if (replies.size() > lines + 1) __builtin_trap();
  for (const auto& r : replies)
    if (!nlohmann::json::accept(r)) __builtin_trap();
  return 0;
}
