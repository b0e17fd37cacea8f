#include "vm/console.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cstring>

#include "harness/log.h"

namespace isobench::vm {

using harness::Clock;
using harness::Fd;

ConsoleReader::ConsoleReader(Fd fd, std::vector<Marker> markers)
    : fd_(std::move(fd)), markers_(std::move(markers)) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) < 0) {
    ISO_LOG(kError) << "pipe2 for the console reader: " << strerror(errno);
    closed_ = true;
    return;
  }
  stop_read_ = Fd(pipe_fds[0]);
  stop_write_ = Fd(pipe_fds[1]);
  thread_ = std::thread([this] { Run(); });
}

void ConsoleReader::Run() {
  char buf[4096];
  for (;;) {
    struct pollfd pfds[2] = {{fd_.get(), POLLIN, 0}, {stop_read_.get(), POLLIN, 0}};
    int r = ::poll(pfds, 2, -1);
    if (r < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (pfds[1].revents) break;
    if (!pfds[0].revents) continue;
    ssize_t n = ::read(fd_.get(), buf, sizeof buf);
    auto now = Clock::now();
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // qemu closed the socket: the domain is gone
    std::lock_guard<std::mutex> lock(mu_);
    ConsumeLocked(buf, static_cast<size_t>(n), now);
    cv_.notify_all();
  }
  closed_ = true;
  std::lock_guard<std::mutex> lock(mu_);
  cv_.notify_all();
}

void ConsoleReader::ConsumeLocked(const char* data, size_t n, Clock::time_point now) {
  if (!first_byte_) first_byte_ = now;
  bytes_ += n;
  for (size_t i = 0; i < n; ++i) {
    char c = data[i];
    if (c == '\r') continue;
    if (c == '\n' || (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f) || c == '\t') {
      tail_ += c;
    }
    if (c == '\n') {
      line_.clear();
      continue;
    }
    if (line_.empty()) line_started_ = now;
    // A line longer than this is noise; keep the prefix for matching.
    if (line_.size() < 4096) line_ += c;
    for (const Marker& m : markers_) {
      if (seen_.count(m.name)) continue;
      // Check only when the line just grew past the marker's length, so each byte is
      // matched once per marker.
      if (line_.size() >= m.substring.size() &&
          line_.compare(line_.size() - m.substring.size(), m.substring.size(), m.substring) == 0)
        seen_[m.name] = line_started_;
    }
  }
  if (tail_.size() > 2 * kTailBytes) tail_.erase(0, tail_.size() - kTailBytes);
}

std::optional<Clock::time_point> ConsoleReader::FirstByteAt() const {
  std::lock_guard<std::mutex> lock(mu_);
  return first_byte_;
}

std::optional<Clock::time_point> ConsoleReader::MarkerAt(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = seen_.find(name);
  if (it == seen_.end()) return std::nullopt;
  return it->second;
}

std::optional<Clock::time_point> ConsoleReader::WaitForMarker(const std::string& name,
                                                              Clock::time_point deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_until(lock, deadline, [&] { return seen_.count(name) > 0 || closed_.load(); });
  auto it = seen_.find(name);
  if (it == seen_.end()) return std::nullopt;
  return it->second;
}

std::string ConsoleReader::Tail(size_t max_bytes) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (tail_.size() <= max_bytes) return tail_;
  return tail_.substr(tail_.size() - max_bytes);
}

void ConsoleReader::Stop() {
  if (thread_.joinable()) {
    char c = 1;
    if (::write(stop_write_.get(), &c, 1) < 0) {
      // The pipe is non-blocking and fresh; a failed write leaves the thread polling the
      // console, which closing it below would not wake. Nothing better to do than log.
      ISO_LOG(kWarning) << "waking the console reader: " << strerror(errno);
    }
    thread_.join();
  }
  fd_.Reset();
  stop_read_.Reset();
  stop_write_.Reset();
}

}  // namespace isobench::vm
