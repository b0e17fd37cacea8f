#include "vm/connection.h"

#include <cerrno>
#include <mutex>

#include "harness/log.h"

namespace isobench::vm {

using harness::Error;
using harness::Result;

namespace {

void QuietErrorHandler(void* /*user_data*/, virErrorPtr error) {
  if (error && error->message) ISO_LOG(kDebug) << "libvirt: " << error->message;
}

int ErrnoForCode(int code) {
  switch (code) {
    case VIR_ERR_NO_DOMAIN:
      return ENOENT;
    case VIR_ERR_DOM_EXIST:
      return EEXIST;
    case VIR_ERR_OPERATION_INVALID:
      return EINVAL;
    case VIR_ERR_NO_SUPPORT:
    case VIR_ERR_ARGUMENT_UNSUPPORTED:
    case VIR_ERR_CONFIG_UNSUPPORTED:
      return EOPNOTSUPP;
    case VIR_ERR_NO_CONNECT:
    case VIR_ERR_SYSTEM_ERROR:
    case VIR_ERR_RPC:
      return ECONNREFUSED;
    case VIR_ERR_AUTH_FAILED:
    case VIR_ERR_AUTH_CANCELLED:
    case VIR_ERR_ACCESS_DENIED:
      return EACCES;
    case VIR_ERR_OPERATION_TIMEOUT:
      return ETIMEDOUT;
    default:
      return EIO;
  }
}

}  // namespace

void InitLibvirt() {
  static std::once_flag once;
  std::call_once(once, [] {
    // virInitialize makes libvirt's global state safe to use from several threads
    // (libvirt.c: "must be called before any other libvirt function" in threaded apps).
    virInitialize();
    virSetErrorFunc(nullptr, QuietErrorHandler);
  });
}

int LastLibvirtErrorCode() {
  virErrorPtr err = virGetLastError();
  return err ? err->code : VIR_ERR_OK;
}

Error LibvirtError(std::string_view op, std::string_view arg) {
  virErrorPtr err = virGetLastError();
  std::string message(op);
  if (!arg.empty()) message += " `" + std::string(arg) + "`";
  message += ": ";
  int code = VIR_ERR_OK;
  int errno_value = EIO;
  if (err && err->message) {
    message += err->message;
    code = err->code;
    errno_value = ErrnoForCode(code);
    // Name clashes come back as a generic VIR_ERR_OPERATION_FAILED ("domain 'x' already
    // exists with uuid ..."); callers need to tell them apart from real failures.
    if (code == VIR_ERR_OPERATION_FAILED &&
        std::string_view(err->message).find("already exists") != std::string_view::npos)
      errno_value = EEXIST;
  } else {
    message += "libvirt reported no error";
  }
  return Error(std::move(message), errno_value);
}

std::string FormatLibvirtVersion(unsigned long version) {
  return std::to_string(version / 1000000) + "." + std::to_string(version / 1000 % 1000) + "." +
         std::to_string(version % 1000);
}

Result<LibvirtConnection> LibvirtConnection::Open(const std::string& uri) {
  InitLibvirt();
  virConnectPtr conn = virConnectOpen(uri.c_str());
  if (!conn) {
    virErrorPtr err = virGetLastError();
    std::string why = err && err->message ? err->message : "libvirt reported no error";
    int code = err ? err->code : VIR_ERR_OK;
    return Error(
        "cannot connect to libvirt at " + uri + ": " + why,
        code == VIR_ERR_AUTH_FAILED || code == VIR_ERR_ACCESS_DENIED ? EACCES : ECONNREFUSED);
  }
  return LibvirtConnection(conn, uri);
}

LibvirtConnection& LibvirtConnection::operator=(LibvirtConnection&& other) noexcept {
  if (this != &other) {
    Close();
    conn_ = std::exchange(other.conn_, nullptr);
    uri_ = std::move(other.uri_);
  }
  return *this;
}

void LibvirtConnection::Close() {
  if (!conn_) return;
  // A positive return means other references (domain objects) still hold the
  // connection; it closes when the last of them is freed.
  if (virConnectClose(conn_) < 0)
    ISO_LOG(kWarning) << "virConnectClose " << uri_ << ": " << LibvirtError("close").message();
  conn_ = nullptr;
}

bool LibvirtConnection::IsAlive() const { return conn_ && virConnectIsAlive(conn_) == 1; }

Result<std::string> LibvirtConnection::DriverType() const {
  const char* type = virConnectGetType(conn_);
  if (!type) return LibvirtError("virConnectGetType", uri_);
  return std::string(type);
}

Result<std::string> LibvirtConnection::LibvirtVersion() const {
  unsigned long version = 0;
  if (virConnectGetLibVersion(conn_, &version) < 0)
    return LibvirtError("virConnectGetLibVersion", uri_);
  return FormatLibvirtVersion(version);
}

Result<std::string> LibvirtConnection::HypervisorVersion() const {
  unsigned long version = 0;
  if (virConnectGetVersion(conn_, &version) < 0) return LibvirtError("virConnectGetVersion", uri_);
  return FormatLibvirtVersion(version);
}

Result<std::vector<std::string>> LibvirtConnection::ListAllDomainNames() const {
  virDomainPtr* domains = nullptr;
  int n = virConnectListAllDomains(conn_, &domains, 0);
  if (n < 0) return LibvirtError("virConnectListAllDomains", uri_);
  std::vector<std::string> names;
  for (int i = 0; i < n; ++i) {
    if (const char* name = virDomainGetName(domains[i])) names.emplace_back(name);
    virDomainFree(domains[i]);
  }
  free(domains);
  return names;
}

}  // namespace isobench::vm
