// Levelled logging to stderr.
//
//   ISO_LOG(kInfo) << "booting " << name;
//
// The level threshold comes from SetLogLevel (the CLI's --log-level / -v) or the
// ISOBENCH_LOG environment variable (debug, info, warning, error).
#pragma once

#include <sstream>
#include <string_view>

namespace isobench::harness {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
// Parses "debug", "info", "warning", "error"; false if unknown.
bool ParseLogLevel(std::string_view text, LogLevel* level);

class LogMessage {
 public:
  LogMessage(LogLevel level, const char* file, int line);
  ~LogMessage();
  std::ostream& stream() { return stream_; }

 private:
  LogLevel level_;
  std::ostringstream stream_;
};

}  // namespace isobench::harness

namespace isobench::harness {
// Lets ISO_LOG be an expression, so it nests safely inside an unbraced if/else.
struct LogVoidify {
  void operator&(std::ostream&) {}
};
}  // namespace isobench::harness

#define ISO_LOG(level)                                                                      \
  (::isobench::harness::LogLevel::level < ::isobench::harness::GetLogLevel())               \
      ? (void)0                                                                             \
      : ::isobench::harness::LogVoidify() &                                                 \
            ::isobench::harness::LogMessage(::isobench::harness::LogLevel::level, __FILE__, \
                                            __LINE__)                                       \
                .stream()
