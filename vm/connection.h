// Move-only owner of a libvirt connection (virConnectPtr), and the bridge from libvirt's
// error reporting to harness::Error.
//
//   ISO_ASSIGN_OR_RETURN(LibvirtConnection conn, LibvirtConnection::Open("qemu:///system"));
//   virDomainPtr d = virDomainLookupByName(conn.get(), "x");
//   if (!d) return LibvirtError("virDomainLookupByName", "x");
//
// libvirt's default error handler prints every error to stderr, including the ones the
// caller expects and handles ("domain not found" while reclaiming); the handler installed
// here routes them to the debug log instead, and callers turn virGetLastError() (which is
// thread-local) into an Error that carries libvirt's own message.
//
// Closing the connection destroys every domain started on it with
// VIR_DOMAIN_START_AUTODESTROY — which is why a crashed harness leaves no VMs running.
#pragma once

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "harness/error.h"

namespace isobench::vm {

inline constexpr const char* kDefaultLibvirtUri = "qemu:///system";

// "<op> `<arg>`: <libvirt's message>" from this thread's last libvirt error; the errno is
// mapped from the libvirt error code (ENOENT for "no domain", EEXIST for "already
// exists", ECONNREFUSED for system errors during connect, EIO otherwise).
harness::Error LibvirtError(std::string_view op, std::string_view arg = {});
// This thread's last libvirt error code (virErrorNumber), VIR_ERR_OK if none.
int LastLibvirtErrorCode();

// Calls virInitialize once and installs the quiet error handler. Open() calls it; call it
// yourself before using libvirt from several threads without a connection.
void InitLibvirt();

class LibvirtConnection {
 public:
  LibvirtConnection() = default;
  // Error: "cannot connect to libvirt at <uri>: <libvirt's message>".
  static harness::Result<LibvirtConnection> Open(const std::string& uri);

  LibvirtConnection(LibvirtConnection&& other) noexcept
      : conn_(std::exchange(other.conn_, nullptr)), uri_(std::move(other.uri_)) {}
  LibvirtConnection& operator=(LibvirtConnection&& other) noexcept;
  LibvirtConnection(const LibvirtConnection&) = delete;
  LibvirtConnection& operator=(const LibvirtConnection&) = delete;
  ~LibvirtConnection() { Close(); }

  virConnectPtr get() const { return conn_; }
  bool valid() const { return conn_ != nullptr; }
  const std::string& uri() const { return uri_; }
  // Whether the daemon still answers (virConnectIsAlive).
  bool IsAlive() const;
  void Close();

  // The driver name ("QEMU", "TEST").
  harness::Result<std::string> DriverType() const;
  // "9.0.0" (the daemon's libvirt) and the hypervisor's ("7.2.0" for qemu).
  harness::Result<std::string> LibvirtVersion() const;
  harness::Result<std::string> HypervisorVersion() const;
  // Names of every domain, running or defined.
  harness::Result<std::vector<std::string>> ListAllDomainNames() const;

 private:
  explicit LibvirtConnection(virConnectPtr conn, std::string uri)
      : conn_(conn), uri_(std::move(uri)) {}
  virConnectPtr conn_ = nullptr;
  std::string uri_;
};

// "9.0.0" from libvirt's packed major*1000000+minor*1000+release.
std::string FormatLibvirtVersion(unsigned long version);

}  // namespace isobench::vm
