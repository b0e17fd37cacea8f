// libFuzzer target: the host side of the agent protocol. The input is what a hostile
// or broken agent writes on its control channel (a socketpair here, as for
// containers): AgentClient::WaitReady and then AgentClient::Call must return a value
// or an Error, never crash, hang past their deadline or throw.
//
// Input layout: bytes up to the first 0xff are written before WaitReady, the rest
// before Call({"op":"ping"}) (whose request id is 1, so seeds carry {"id":1,...}).
// The peer is closed after writing, so every read ends at EOF instead of a timeout.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "harness/agent_client.h"

namespace {

// Writes all of `data` (the socket buffer is larger than -max_len).
void WriteAll(int fd, const uint8_t* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n <= 0) return;
    data += n;
    size -= static_cast<size_t>(n);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace isobench::harness;
  if (size > 128 * 1024) return 0;  // keep below the socket buffer: no writer thread
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) __builtin_trap();
  int sndbuf = 1 << 20;
  ::setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  const uint8_t* split = static_cast<const uint8_t*>(std::memchr(data, 0xff, size));
  size_t first = split ? static_cast<size_t>(split - data) : size;
  AgentClient client{Fd(sv[0])};
  WriteAll(sv[1], data, first);
  if (split) WriteAll(sv[1], split + 1, size - first - 1);
  ::close(sv[1]);
  auto deadline = Clock::now() + std::chrono::seconds(2);
  auto ready = client.WaitReady(deadline);
  if (ready.ok() && !ready->is_object()) __builtin_trap();
  auto reply = client.Call({{"op", "ping"}}, std::chrono::seconds(2));
  if (reply.ok() && (!reply->is_object() || !(*reply)["ok"].is_boolean())) __builtin_trap();
  if (Clock::now() > deadline + std::chrono::seconds(3)) __builtin_trap();  // must not wait at EOF
  return 0;
}
