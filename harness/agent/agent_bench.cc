// The `bench` op: small overhead microbenchmarks measured inside the instance, so the
// report can say where the costs of each isolation technology come from. Durations
// here are guest-clock intervals of guest work, never compared with host timestamps.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "harness/agent/agent.h"

namespace isobench::agent {
namespace {

int64_t NowNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

// A real syscall each time: glibc caches nothing for SYS_getpid via syscall(2).
nlohmann::json SyscallRoundTrip(int64_t iterations) {
  int64_t start = NowNs();
  for (int64_t i = 0; i < iterations; ++i) ::syscall(SYS_getpid);
  int64_t elapsed = NowNs() - start;
  return {{"ops", iterations},
          {"elapsed_ns", elapsed},
          {"ns_per_op", static_cast<double>(elapsed) / static_cast<double>(iterations)}};
}

// Anonymous page faults: map, touch every page once, unmap.
nlohmann::json PageFaults(int64_t pages) {
  size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  size_t bytes = static_cast<size_t>(pages) * page;
  void* mem = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) throw std::runtime_error(std::string("mmap: ") + std::strerror(errno));
  // No transparent huge pages: one fault per 4 KiB page is what is measured.
  ::madvise(mem, bytes, MADV_NOHUGEPAGE);
  volatile char* p = static_cast<char*>(mem);
  int64_t start = NowNs();
  for (size_t off = 0; off < bytes; off += page) p[off] = 1;
  int64_t elapsed = NowNs() - start;
  ::munmap(mem, bytes);
  return {{"ops", pages},
          {"elapsed_ns", elapsed},
          {"ns_per_op", static_cast<double>(elapsed) / static_cast<double>(pages)},
          {"faults_per_s", static_cast<double>(pages) * 1e9 / static_cast<double>(elapsed)}};
}

// memcpy bandwidth over a buffer larger than the caches.
nlohmann::json MemoryBandwidth(int64_t bytes, int64_t rounds) {
  std::vector<char> a(static_cast<size_t>(bytes), 1), b(static_cast<size_t>(bytes), 2);
  std::memcpy(b.data(), a.data(), a.size());  // fault everything in first
  int64_t start = NowNs();
  for (int64_t r = 0; r < rounds; ++r) {
    std::memcpy(b.data(), a.data(), a.size());
    a[static_cast<size_t>(r) % a.size()] ^= b[0];  // keep the copies observable
  }
  int64_t elapsed = NowNs() - start;
  double total = static_cast<double>(bytes) * static_cast<double>(rounds);
  return {{"bytes", total},
          {"elapsed_ns", elapsed},
          {"bytes_per_s", total * 1e9 / static_cast<double>(elapsed)}};
}

// TCP request/response against an echo server (netperf's TCP_RR, one byte each way):
// one connection, Nagle off, `count` round trips after `warmup` unrecorded ones. Each
// wait is bounded by `timeout_ms`, so a peer that stops answering is an error, not a
// hang of the agent.
nlohmann::json TcpRequestResponse(const std::string& address, int port, int64_t count,
                                  int64_t warmup, int timeout_ms) {
  struct sockaddr_in to = {};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, address.c_str(), &to.sin_addr) != 1)
    throw std::runtime_error("not an IPv4 address: " + address);
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  auto fail = [&](const char* what) {
    throw std::runtime_error(std::string(what) + " " + address + ":" + std::to_string(port) + ": " +
                             std::strerror(errno));
  };
  struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);  // bounds connect() too
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (::connect(fd, reinterpret_cast<struct sockaddr*>(&to), sizeof to) != 0) fail("connect");
  std::vector<int64_t> rtt;
  rtt.reserve(static_cast<size_t>(count));
  const int64_t first = NowNs();
  for (int64_t i = 0; i < warmup + count; ++i) {
    char byte = static_cast<char>(i);
    int64_t start = NowNs();
    if (::send(fd, &byte, 1, MSG_NOSIGNAL) != 1) fail("send to");
    char back = 0;
    ssize_t n = ::recv(fd, &back, 1, 0);
    if (n == 0) {
      errno = ECONNRESET;
      fail("recv from");
    }
    if (n != 1) fail("recv from");
    if (back != byte) throw std::runtime_error("the echo server answered another byte");
    if (i >= warmup) rtt.push_back(NowNs() - start);
  }
  const int64_t elapsed = NowNs() - first;
  std::vector<int64_t> sorted = rtt;
  std::sort(sorted.begin(), sorted.end());
  auto at = [&](double q) {
    return sorted[std::min(sorted.size() - 1, static_cast<size_t>(q * sorted.size()))];
  };
  double sum = 0;
  for (int64_t v : rtt) sum += static_cast<double>(v);
  return {{"ops", count},
          {"elapsed_ns", elapsed},
          {"p50_ns", at(0.5)},
          {"p99_ns", at(0.99)},
          {"mean_ns", sum / static_cast<double>(count)}};
}

}  // namespace

nlohmann::json HandleBench(const nlohmann::json& request) {
  std::string kind = request.at("kind").get<std::string>();
  if (kind == "syscall") {
    int64_t n = request.value("iterations", int64_t{1000000});
    if (n <= 0 || n > 1000000000) throw std::runtime_error("iterations out of range");
    return SyscallRoundTrip(n);
  }
  if (kind == "page_faults") {
    int64_t pages = request.value("pages", int64_t{16384});
    if (pages <= 0 || pages > (1 << 22)) throw std::runtime_error("pages out of range");
    return PageFaults(pages);
  }
  if (kind == "memory_bandwidth") {
    int64_t bytes = request.value("bytes", int64_t{32 << 20});
    int64_t rounds = request.value("rounds", int64_t{8});
    if (bytes <= 0 || bytes > (1LL << 30) || rounds <= 0 || rounds > 10000)
      throw std::runtime_error("bytes/rounds out of range");
    return MemoryBandwidth(bytes, rounds);
  }
  if (kind == "tcp_rr") {
    const std::string address = request.at("address").get<std::string>();
    const int port = request.at("port").get<int>();
    const int64_t count = request.value("count", int64_t{1000});
    const int64_t warmup = request.value("warmup", int64_t{50});
    const int timeout_ms = request.value("timeout_ms", 5000);
    if (port <= 0 || port > 65535 || count <= 0 || count > 10000000 || warmup < 0 ||
        warmup > 1000000 || timeout_ms <= 0 || timeout_ms > 600000)
      throw std::runtime_error("port/count/warmup/timeout_ms out of range");
    return TcpRequestResponse(address, port, count, warmup, timeout_ms);
  }
  throw std::runtime_error("unknown bench kind `" + kind +
                           "` (syscall, page_faults, memory_bandwidth, tcp_rr)");
}

}  // namespace isobench::agent
