#include "vm/domain_xml.h"

#include <cmath>
#include <regex>
#include <sstream>

namespace isobench::vm {

using harness::Result;

std::string XmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '\'':
        out += "&apos;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string DomainName(std::string_view run_id, std::string_view instance_name) {
  return std::string(kDomainNamePrefix) + std::string(run_id) + "-" + std::string(instance_name);
}

std::string BuildMetadataElement(std::string_view run_id, std::string_view instance_name) {
  return std::string("<") + kMetadataPrefix + ":instance xmlns:" + kMetadataPrefix + "='" +
         kMetadataNamespace + "' run='" + XmlEscape(run_id) + "' name='" +
         XmlEscape(instance_name) + "'/>";
}

namespace {

std::string Unescape(std::string text) {
  static const std::pair<const char*, const char*> kEntities[] = {
      {"&lt;", "<"}, {"&gt;", ">"}, {"&apos;", "'"}, {"&quot;", "\""}, {"&amp;", "&"}};
  for (auto [entity, plain] : kEntities) {
    for (size_t pos = 0; (pos = text.find(entity, pos)) != std::string::npos; pos += 1)
      text.replace(pos, std::char_traits<char>::length(entity), plain);
  }
  return text;
}

std::optional<std::string> Attribute(std::string_view xml, std::string_view name) {
  // Attribute values never contain their own quote character (XmlEscape escapes both).
  std::regex re("\\s" + std::string(name) + "\\s*=\\s*(?:'([^']*)'|\"([^\"]*)\")");
  std::match_results<std::string_view::const_iterator> m;
  if (!std::regex_search(xml.begin(), xml.end(), m, re)) return std::nullopt;
  return Unescape(m[1].matched ? m[1].str() : m[2].str());
}

}  // namespace

std::optional<InstanceMetadata> ParseMetadataElement(std::string_view xml) {
  // virDomainGetMetadata selects the element by namespace URI and returns it without
  // prefix or xmlns (`<instance run="..." name="..."/>`), so only the attributes matter.
  auto run = Attribute(xml, "run");
  auto name = Attribute(xml, "name");
  if (!run || run->empty()) return std::nullopt;
  return InstanceMetadata{*run, name.value_or("")};
}

Result<std::string> BuildDomainXml(const GuestConfig& guest) {
  ISO_RETURN_IF_ERROR(ValidateGuestConfig(guest).Context("domain XML"));
  std::ostringstream x;
  bool words = guest.cpu_readback == CpuReadback::kFeatureWords;
  x << "<domain type='" << (guest.accelerator == Accelerator::kKvm ? "kvm" : "qemu") << "'"
    << (words ? " xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'" : "") << ">\n";
  x << "  <name>" << XmlEscape(guest.name) << "</name>\n";
  x << "  <metadata>\n    " << BuildMetadataElement(guest.run_id, guest.instance_name)
    << "\n  </metadata>\n";
  x << "  <memory unit='KiB'>" << guest.memory_bytes / 1024 << "</memory>\n";
  if (guest.hugepages) x << "  <memoryBacking>\n    <hugepages/>\n  </memoryBacking>\n";
  x << "  <vcpu placement='static'>" << guest.vcpus << "</vcpu>\n";
  if (!guest.vcpu_pins.empty() || guest.cpu_quota > 0) {
    x << "  <cputune>\n";
    for (size_t i = 0; i < guest.vcpu_pins.size(); ++i)
      x << "    <vcpupin vcpu='" << i << "' cpuset='" << guest.vcpu_pins[i] << "'/>\n";
    if (guest.cpu_quota > 0) {
      // CFS bandwidth over the whole qemu process (vCPU and I/O threads), the VM
      // equivalent of the container's cpu.cfs_quota_us / cpu.max.
      constexpr long kPeriodUs = 100000;
      long quota = std::lround(guest.cpu_quota * kPeriodUs);
      if (quota < 1000) quota = 1000;  // kernel/sched/core.c: min_cfs_quota_period 1 ms
      x << "    <global_period>" << kPeriodUs << "</global_period>\n";
      x << "    <global_quota>" << quota << "</global_quota>\n";
    }
    x << "  </cputune>\n";
  }
  if (guest.io_weight > 0)
    x << "  <blkiotune>\n    <weight>" << guest.io_weight << "</weight>\n  </blkiotune>\n";
  x << "  <os>\n";
  x << "    <type arch='x86_64' machine='" << MachineTypeName(guest.machine) << "'>hvm</type>\n";
  x << "    <kernel>" << XmlEscape(guest.kernel) << "</kernel>\n";
  if (!guest.initrd.empty()) x << "    <initrd>" << XmlEscape(guest.initrd) << "</initrd>\n";
  if (!guest.cmdline.empty()) x << "    <cmdline>" << XmlEscape(guest.cmdline) << "</cmdline>\n";
  x << "  </os>\n";
  x << "  <features>\n    <acpi/>\n  </features>\n";
  if (guest.accelerator == Accelerator::kKvm) {
    // The guest sees the host CPU; under TCG qemu's default model is what is emulated.
    x << "  <cpu mode='host-passthrough' check='none'/>\n";
  }
  x << "  <clock offset='utc'/>\n";
  x << "  <on_poweroff>destroy</on_poweroff>\n";
  x << "  <on_reboot>destroy</on_reboot>\n";
  x << "  <on_crash>destroy</on_crash>\n";
  x << "  <devices>\n";
  if (!guest.emulator.empty())
    x << "    <emulator>" << XmlEscape(guest.emulator) << "</emulator>\n";
  if (guest.disk) {
    const DiskConfig& d = *guest.disk;
    x << "    <disk type='file' device='disk'>\n";
    x << "      <driver name='qemu' type='raw' cache='" << d.cache << "' io='" << d.io << "'/>\n";
    x << "      <source file='" << XmlEscape(d.path) << "'/>\n";
    x << "      <target dev='vda' bus='virtio'/>\n";
    if (d.read_only) x << "      <readonly/>\n";
    x << "    </disk>\n";
  }
  x << "    <controller type='usb' model='none'/>\n";
  if (guest.network) {
    const NetworkConfig& n = *guest.network;
    x << "    <interface type='" << n.type << "'>\n";
    if (!n.mac.empty()) x << "      <mac address='" << XmlEscape(n.mac) << "'/>\n";
    if (n.type == "network")
      x << "      <source network='" << XmlEscape(n.source) << "'/>\n";
    else if (n.type == "bridge")
      x << "      <source bridge='" << XmlEscape(n.source) << "'/>\n";
    if (!n.target_dev.empty()) x << "      <target dev='" << XmlEscape(n.target_dev) << "'/>\n";
    x << "      <model type='virtio'/>\n";
    x << "    </interface>\n";
  }
  // mode='bind': qemu is the listener (server=on,wait=off), so the guest never blocks on
  // an absent reader and the host may connect whenever it is ready.
  const std::pair<const std::string*, int> serials[] = {{&guest.console_socket, 0},
                                                        {&guest.channel_socket, 1}};
  for (auto [path, port] : serials) {
    x << "    <serial type='unix'>\n";
    x << "      <source mode='bind' path='" << XmlEscape(*path) << "'/>\n";
    x << "      <target type='isa-serial' port='" << port << "'/>\n";
    x << "    </serial>\n";
  }
  x << "    <memballoon model='none'/>\n";
  x << "  </devices>\n";
  if (words) {
    // Without this capability libvirt reads the guest CPU back as CPUID feature words
    // (two qom-gets) instead of one qom-get per CPU property (guest_config.h).
    x << "  <qemu:capabilities>\n";
    x << "    <qemu:del capability='" << kPerFeatureReadbackCapability << "'/>\n";
    x << "  </qemu:capabilities>\n";
  }
  x << "</domain>\n";
  return x.str();
}

}  // namespace isobench::vm
