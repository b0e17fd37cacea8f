// The `bench` op: small overhead microbenchmarks measured inside the instance, so the
// report can say where the costs of each isolation technology come from. Durations
// here are guest-clock intervals of guest work, never compared with host timestamps.
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>
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
  throw std::runtime_error("unknown bench kind `" + kind +
                           "` (syscall, page_faults, memory_bandwidth)");
}

}  // namespace isobench::agent
