// Move-only owner of a libvirt domain (virDomainPtr): the destructor destroys it (hard
// power-off) and, if this object defined it, undefines it. Destroy() is idempotent.
//
//   ISO_ASSIGN_OR_RETURN(Domain domain, Domain::CreateTransient(conn, xml));
//   ...                                 // running; dies with `conn` if the harness dies
//   ISO_RETURN_IF_ERROR(domain.Destroy());
//
// Transient domains are started with VIR_DOMAIN_START_AUTODESTROY where the driver
// supports it: libvirtd destroys them when the connection that created them closes, so a
// harness that crashes (or is SIGKILLed) leaves no VM behind.
#pragma once

#include <libvirt/libvirt.h>

#include <chrono>
#include <optional>
#include <string>
#include <utility>

#include "harness/error.h"
#include "vm/connection.h"
#include "vm/domain_xml.h"

namespace isobench::vm {

class Domain {
 public:
  Domain() = default;
  // virDomainCreateXML. `autodestroy` adds VIR_DOMAIN_START_AUTODESTROY; drivers without
  // it (the test driver) are retried without the flag and the domain is destroyed by
  // this object alone.
  static harness::Result<Domain> CreateTransient(const LibvirtConnection& conn,
                                                 const std::string& xml, bool autodestroy = true);
  // virDomainDefineXML: a persistent, inactive domain this object owns (undefined on
  // Destroy). Start() boots it.
  static harness::Result<Domain> Define(const LibvirtConnection& conn, const std::string& xml);
  // An existing domain, adopted: Destroy() will destroy it and undefine it if persistent.
  // ENOENT when there is no such domain.
  static harness::Result<Domain> Lookup(const LibvirtConnection& conn, const std::string& name);

  Domain(Domain&& other) noexcept
      : dom_(std::exchange(other.dom_, nullptr)),
        name_(std::move(other.name_)),
        undefine_(std::exchange(other.undefine_, false)) {}
  Domain& operator=(Domain&& other) noexcept;
  Domain(const Domain&) = delete;
  Domain& operator=(const Domain&) = delete;
  ~Domain();

  virDomainPtr get() const { return dom_; }
  bool valid() const { return dom_ != nullptr; }
  const std::string& name() const { return name_; }

  harness::Result<void> Start();
  // Whether it is running; a domain that has vanished (transient and stopped) is not.
  bool IsActive() const;
  bool IsPersistent() const;
  // ACPI power button (the guest decides); see Destroy for the hard stop.
  harness::Result<void> ShutdownAcpi();
  // Polls until the domain is no longer running; false on timeout.
  bool WaitInactive(std::chrono::milliseconds timeout) const;
  // Hard stop (virDomainDestroy), then undefine if persistent and owned or adopted.
  // A domain that is already gone is success. Idempotent; the handle is released.
  harness::Result<void> Destroy();
  // Gives up ownership without stopping anything.
  virDomainPtr Release();

  // The isobench metadata element, or nullopt when the domain does not carry it.
  harness::Result<std::optional<InstanceMetadata>> Metadata() const;
  // The live XML (virDomainGetXMLDesc).
  harness::Result<std::string> XmlDesc() const;

 private:
  Domain(virDomainPtr dom, std::string name, bool undefine)
      : dom_(dom), name_(std::move(name)), undefine_(undefine) {}
  virDomainPtr dom_ = nullptr;
  std::string name_;
  bool undefine_ = false;
};

}  // namespace isobench::vm
