#include "harness/error.h"

#include <cstring>

namespace isobench::harness {

Error Error::Errno(std::string_view op, std::string_view arg) { return Errno(errno, op, arg); }

Error Error::Errno(int errno_value, std::string_view op, std::string_view arg) {
  std::string message(op);
  if (!arg.empty()) {
    message += " `";
    message += arg;
    message += "`";
  }
  message += ": ";
  message += std::strerror(errno_value);
  return Error(std::move(message), errno_value);
}

Error& Error::Context(std::string_view context) & {
  std::string prefixed(context);
  prefixed += ": ";
  prefixed += message_;
  message_ = std::move(prefixed);
  return *this;
}

Error&& Error::Context(std::string_view context) && { return std::move(Context(context)); }

}  // namespace isobench::harness
