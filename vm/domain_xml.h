// Pure libvirt domain-XML builder: a GuestConfig in, a <domain> document out. No file
// system, no libvirt calls, so every branch is unit-testable and every output can be
// checked with `virt-xml-validate FILE domain`.
//
//   ISO_ASSIGN_OR_RETURN(std::string xml, BuildDomainXml(guest));
//   virDomainCreateXML(conn, xml.c_str(), VIR_DOMAIN_START_AUTODESTROY);
//
// The document: <domain type='kvm'|'qemu'>, direct kernel boot (kernel/initrd/cmdline),
// <features><acpi/></features> (without ACPI the agent's power-off only halts),
// on_poweroff/on_reboot/on_crash = destroy, no USB controller and no balloon (they cost
// boot time and are not part of what is measured), ttyS0 and ttyS1 as serial ports on
// unix sockets qemu listens on, optional virtio-blk disk and virtio-net interface, and
// <metadata><isobench:instance run=... name=.../></metadata>.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "harness/error.h"
#include "vm/guest_config.h"

namespace isobench::vm {

// The metadata namespace that marks a domain as created by isobench.
inline constexpr const char* kMetadataNamespace = "https://isobench.dev/xmlns/instance/1";
inline constexpr const char* kMetadataPrefix = "isobench";
// Every isobench domain name starts with this.
inline constexpr const char* kDomainNamePrefix = "isobench-";
// The libvirt QEMU capability whose presence makes libvirt read the guest CPU back one
// property at a time; CpuReadback::kFeatureWords deletes it in the domain XML.
inline constexpr const char* kPerFeatureReadbackCapability = "cpu-unavailable-features";

harness::Result<std::string> BuildDomainXml(const GuestConfig& guest);

// The <isobench:instance .../> element alone (what virDomainSetMetadata would take).
std::string BuildMetadataElement(std::string_view run_id, std::string_view instance_name);

// What the metadata element read back from a domain says. virDomainGetMetadata, asked
// for kMetadataNamespace, returns it as `<instance run="..." name="..."/>` (no prefix,
// libvirt's own quoting); nullopt when it carries no run id.
struct InstanceMetadata {
  std::string run_id;
  std::string instance_name;
};
std::optional<InstanceMetadata> ParseMetadataElement(std::string_view xml);

// "isobench-<run_id>-<instance>".
std::string DomainName(std::string_view run_id, std::string_view instance_name);

// Escapes & < > ' " for element text and attribute values.
std::string XmlEscape(std::string_view text);

}  // namespace isobench::vm
