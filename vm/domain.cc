#include "vm/domain.h"

#include <cstdlib>
#include <thread>

#include "harness/log.h"

namespace isobench::vm {

using harness::Error;
using harness::Result;

namespace {

std::string NameOf(virDomainPtr dom) {
  const char* name = virDomainGetName(dom);
  return name ? name : "?";
}

// Errors that mean "there is nothing left to stop".
bool IsGone(int code) { return code == VIR_ERR_NO_DOMAIN || code == VIR_ERR_OPERATION_INVALID; }

}  // namespace

Result<Domain> Domain::CreateTransient(const LibvirtConnection& conn, const std::string& xml,
                                       bool autodestroy) {
  unsigned int flags = autodestroy ? VIR_DOMAIN_START_AUTODESTROY : 0;
  virDomainPtr dom = virDomainCreateXML(conn.get(), xml.c_str(), flags);
  if (!dom && autodestroy) {
    int code = LastLibvirtErrorCode();
    if (code == VIR_ERR_INVALID_ARG || code == VIR_ERR_NO_SUPPORT ||
        code == VIR_ERR_ARGUMENT_UNSUPPORTED) {
      ISO_LOG(kDebug) << "libvirt driver of " << conn.uri()
                      << " refuses VIR_DOMAIN_START_AUTODESTROY; creating without it";
      dom = virDomainCreateXML(conn.get(), xml.c_str(), 0);
    }
  }
  if (!dom) return LibvirtError("virDomainCreateXML");
  return Domain(dom, NameOf(dom), /*undefine=*/false);
}

Result<Domain> Domain::Define(const LibvirtConnection& conn, const std::string& xml) {
  virDomainPtr dom = virDomainDefineXML(conn.get(), xml.c_str());
  if (!dom) return LibvirtError("virDomainDefineXML");
  return Domain(dom, NameOf(dom), /*undefine=*/true);
}

Result<Domain> Domain::Lookup(const LibvirtConnection& conn, const std::string& name) {
  virDomainPtr dom = virDomainLookupByName(conn.get(), name.c_str());
  if (!dom) return LibvirtError("virDomainLookupByName", name);
  bool persistent = virDomainIsPersistent(dom) == 1;
  return Domain(dom, name, persistent);
}

Domain& Domain::operator=(Domain&& other) noexcept {
  if (this != &other) {
    if (dom_) {
      auto r = Destroy();
      if (!r.ok()) ISO_LOG(kWarning) << r.error().message();
    }
    dom_ = std::exchange(other.dom_, nullptr);
    name_ = std::move(other.name_);
    undefine_ = std::exchange(other.undefine_, false);
  }
  return *this;
}

Domain::~Domain() {
  if (!dom_) return;
  auto r = Destroy();
  if (!r.ok()) ISO_LOG(kWarning) << "destroying domain " << name_ << ": " << r.error().message();
}

Result<void> Domain::Start() {
  if (!dom_) return Error("domain handle is empty", EINVAL);
  if (virDomainCreate(dom_) < 0) return LibvirtError("virDomainCreate", name_);
  return {};
}

bool Domain::IsActive() const { return dom_ && virDomainIsActive(dom_) == 1; }

bool Domain::IsPersistent() const { return dom_ && virDomainIsPersistent(dom_) == 1; }

Result<void> Domain::ShutdownAcpi() {
  if (!dom_) return Error("domain handle is empty", EINVAL);
  if (virDomainShutdownFlags(dom_, VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN) < 0) {
    int code = LastLibvirtErrorCode();
    // Drivers without a choice of method (the test driver) refuse the flag; their default
    // shutdown is the only one they have.
    if (code != VIR_ERR_INVALID_ARG && code != VIR_ERR_NO_SUPPORT &&
        code != VIR_ERR_ARGUMENT_UNSUPPORTED)
      return LibvirtError("virDomainShutdownFlags", name_);
    if (virDomainShutdown(dom_) < 0) return LibvirtError("virDomainShutdown", name_);
  }
  return {};
}

bool Domain::WaitInactive(std::chrono::milliseconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (IsActive()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

Result<void> Domain::Destroy() {
  if (!dom_) return {};
  Result<void> result;
  if (virDomainIsActive(dom_) == 1 && virDomainDestroy(dom_) < 0) {
    if (!IsGone(LastLibvirtErrorCode())) result = LibvirtError("virDomainDestroy", name_);
  }
  if (result.ok() && undefine_ && virDomainIsPersistent(dom_) == 1) {
    // METADATA and NVRAM: remove everything the definition owns (libvirt refuses to
    // undefine a domain with managed state unless told).
    unsigned int flags = VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA |
                         VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA | VIR_DOMAIN_UNDEFINE_NVRAM;
    if (virDomainUndefineFlags(dom_, flags) < 0 && virDomainUndefine(dom_) < 0 &&
        LastLibvirtErrorCode() != VIR_ERR_NO_DOMAIN)
      result = LibvirtError("virDomainUndefine", name_);
  }
  if (!result.ok()) return result;  // keep the handle: the caller may retry
  virDomainFree(dom_);
  dom_ = nullptr;
  return {};
}

virDomainPtr Domain::Release() { return std::exchange(dom_, nullptr); }

Result<std::optional<InstanceMetadata>> Domain::Metadata() const {
  if (!dom_) return Error("domain handle is empty", EINVAL);
  char* xml = virDomainGetMetadata(dom_, VIR_DOMAIN_METADATA_ELEMENT, kMetadataNamespace,
                                   VIR_DOMAIN_AFFECT_CURRENT);
  if (!xml) {
    if (LastLibvirtErrorCode() == VIR_ERR_NO_DOMAIN_METADATA)
      return std::optional<InstanceMetadata>();
    return LibvirtError("virDomainGetMetadata", name_);
  }
  std::optional<InstanceMetadata> parsed = ParseMetadataElement(xml);
  free(xml);
  return parsed;
}

Result<std::string> Domain::XmlDesc() const {
  if (!dom_) return Error("domain handle is empty", EINVAL);
  char* xml = virDomainGetXMLDesc(dom_, 0);
  if (!xml) return LibvirtError("virDomainGetXMLDesc", name_);
  std::string out(xml);
  free(xml);
  return out;
}

}  // namespace isobench::vm
