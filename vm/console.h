// Reads a guest's serial console (ttyS0) in a background thread, stamping on the host
// clock the first byte and the first line that contains each marker ("Linux version",
// "isobench-agent: init started"), and keeping the tail for error messages.
//
//   ConsoleReader console(std::move(console_fd),
//                         {{"kernel", "Linux version "}, {"init", kInitMarker}});
//   ...
//   if (auto t = console.MarkerAt("kernel")) phases.push_back({"kernel", Seconds(t0, *t)});
//   std::string tail = console.Tail(2048);  // for "guest never became ready" errors
//   console.Stop();                         // also done by the destructor
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "harness/backend.h"
#include "harness/fd.h"

namespace isobench::vm {

// What the agent writes to /dev/console in VM mode (harness/agent/protocol.md).
inline constexpr const char* kInitMarker = "isobench-agent: init started";
// The first line of the kernel log (init/version.c linux_banner).
inline constexpr const char* kKernelMarker = "Linux version ";

class ConsoleReader {
 public:
  struct Marker {
    std::string name;
    std::string substring;
  };
  static constexpr size_t kTailBytes = 64 * 1024;

  ConsoleReader() = default;
  ConsoleReader(harness::Fd fd, std::vector<Marker> markers);
  ConsoleReader(const ConsoleReader&) = delete;
  ConsoleReader& operator=(const ConsoleReader&) = delete;
  ~ConsoleReader() { Stop(); }

  std::optional<harness::Clock::time_point> FirstByteAt() const;
  // Arrival of the first byte of the first line containing the marker.
  std::optional<harness::Clock::time_point> MarkerAt(const std::string& name) const;
  // Waits until the marker has been seen or the deadline passes.
  std::optional<harness::Clock::time_point> WaitForMarker(const std::string& name,
                                                          harness::Clock::time_point deadline);
  // The last `max_bytes` of console output, control characters other than '\n' removed.
  std::string Tail(size_t max_bytes = 4096) const;
  // Whether qemu closed the console (the domain stopped).
  bool closed() const { return closed_.load(); }
  uint64_t bytes() const { return bytes_.load(); }

  // Stops and joins the reader; the console fd is closed. Idempotent.
  void Stop();

 private:
  void Run();
  void ConsumeLocked(const char* data, size_t n, harness::Clock::time_point now);

  harness::Fd fd_;
  harness::Fd stop_read_, stop_write_;
  std::vector<Marker> markers_;
  std::thread thread_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::optional<harness::Clock::time_point> first_byte_;
  std::map<std::string, harness::Clock::time_point> seen_;
  std::string tail_;
  std::string line_;
  harness::Clock::time_point line_started_{};
  std::atomic<bool> closed_{false};
  std::atomic<uint64_t> bytes_{0};
};

}  // namespace isobench::vm
