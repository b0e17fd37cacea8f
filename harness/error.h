// Error values for everything that touches the kernel, libvirt or a file.
//
// isobench reports failures as values, not exceptions: a `Result<T>` holds either a
// `T` or an `Error`. An `Error` carries the errno (0 when none applies) and a
// human-readable message that names the operation and its argument, in crun's style:
//
//   open `/sys/fs/cgroup/memory/isobench/c1/memory.limit_in_bytes`: Permission denied
//
// Usage:
//
//   Result<Fd> OpenRead(const std::string& path) {
//     int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
//     if (fd < 0) return Error::Errno("open", path);
//     return Fd(fd);
//   }
//
//   Result<void> Caller() {
//     ISO_ASSIGN_OR_RETURN(Fd fd, OpenRead("/etc/hostname"));
//     ISO_RETURN_IF_ERROR(DoSomething(fd).Context("reading hostname"));
//     return {};
//   }
//
// Exceptions appear only at the edges (main, test and benchmark adapters), via
// `ValueOrThrow`.
#pragma once

#include <cerrno>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace isobench::harness {

class Error {
 public:
  Error() = default;
  explicit Error(std::string message, int errno_value = 0)
      : message_(std::move(message)), errno_(errno_value) {}

  // "<op> `<arg>`: <strerror(errno)>", taking errno at the call.
  static Error Errno(std::string_view op, std::string_view arg = {});
  // Same, with an explicit errno value (e.g. a negative return of a library call).
  static Error Errno(int errno_value, std::string_view op, std::string_view arg = {});

  int errno_value() const { return errno_; }
  const std::string& message() const { return message_; }

  // Prefixes the message with what the caller was doing: "<context>: <message>".
  Error& Context(std::string_view context) &;
  Error&& Context(std::string_view context) &&;

 private:
  std::string message_;
  int errno_ = 0;
};

// Thrown only by ValueOrThrow at program edges.
class ErrorException : public std::runtime_error {
 public:
  explicit ErrorException(Error error)
      : std::runtime_error(error.message()), error_(std::move(error)) {}
  const Error& error() const { return error_; }

 private:
  Error error_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}      // NOLINT: implicit
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT: implicit

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  T&& operator*() && { return std::move(*this).value(); }

  const Error& error() const& { return std::get<1>(v_); }
  Error&& error() && { return std::get<1>(std::move(v_)); }

  Result&& Context(std::string_view context) && {
    if (!ok()) std::get<1>(v_).Context(context);
    return std::move(*this);
  }

  T ValueOrThrow() && {
    if (!ok()) throw ErrorException(std::move(*this).error());
    return std::move(*this).value();
  }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT: implicit

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const& { return error_; }
  Error&& error() && { return std::move(error_); }

  Result&& Context(std::string_view context) && {
    if (!ok_) error_.Context(context);
    return std::move(*this);
  }

  void ValueOrThrow() && {
    if (!ok_) throw ErrorException(std::move(error_));
  }

 private:
  Error error_;
  bool ok_ = true;
};

}  // namespace isobench::harness

#define ISO_CONCAT_INNER_(a, b) a##b
#define ISO_CONCAT_(a, b) ISO_CONCAT_INNER_(a, b)

// Returns the error of `expr` (a Result) from the enclosing function.
#define ISO_RETURN_IF_ERROR(expr)                                 \
  do {                                                            \
    auto iso_result_ = (expr);                                    \
    if (!iso_result_.ok()) return std::move(iso_result_).error(); \
  } while (0)

// `lhs` = the value of `expr`, or returns its error.
#define ISO_ASSIGN_OR_RETURN(lhs, expr) \
  ISO_ASSIGN_OR_RETURN_IMPL_(ISO_CONCAT_(iso_result_, __LINE__), lhs, expr)
#define ISO_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                               \
  if (!tmp.ok()) return std::move(tmp).error();    \
  lhs = std::move(tmp).value()
