#include "vm/vm_options.h"

#include <cerrno>
#include <cstdlib>
#include <sstream>

namespace isobench::vm {

using harness::Error;
using harness::Result;

namespace {

Result<double> ParseSeconds(const std::string& key, const std::string& value) {
  char* end = nullptr;
  double v = std::strtod(value.c_str(), &end);
  if (value.empty() || *end != '\0' || !(v >= 0) || v > 86400)
    return Error("option " + key + "=`" + value + "`: expected seconds (0..86400)", EINVAL);
  return v;
}

Result<bool> ParseBool(const std::string& key, const std::string& value) {
  if (value == "1" || value == "true" || value == "on" || value == "yes") return true;
  if (value == "0" || value == "false" || value == "off" || value == "no") return false;
  return Error("option " + key + "=`" + value + "`: expected 0 or 1", EINVAL);
}

Result<std::vector<int>> ParseCpuList(const std::string& key, const std::string& value) {
  std::vector<int> cpus;
  std::stringstream in(value);
  std::string item;
  while (std::getline(in, item, ',')) {
    char* end = nullptr;
    long cpu = std::strtol(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || cpu < 0 || cpu > 4095)
      return Error("option " + key + "=`" + value + "`: expected host CPUs like 2,3", EINVAL);
    cpus.push_back(static_cast<int>(cpu));
  }
  return cpus;
}

std::chrono::milliseconds Millis(double seconds) {
  return std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
}

}  // namespace

Result<VmOptions> ParseVmOptions(const std::map<std::string, std::string>& options) {
  VmOptions o;
  for (const auto& [key, value] : options) {
    if (key.rfind("vm.", 0) != 0) continue;
    if (key == "vm.uri") {
      if (value.empty()) return Error("option vm.uri is empty", EINVAL);
      o.uri = value;
    } else if (key == "vm.accel") {
      if (value != "auto" && value != "kvm" && value != "tcg" && !value.empty())
        return Error("option vm.accel=`" + value + "`: expected auto, kvm or tcg", EINVAL);
      o.accel = value.empty() ? "auto" : value;
    } else if (key == "vm.machine") {
      ISO_ASSIGN_OR_RETURN(o.machine, ParseMachineType(value).Context("option vm.machine"));
    } else if (key == "vm.cpu_readback") {
      ISO_ASSIGN_OR_RETURN(o.cpu_readback,
                           ParseCpuReadback(value).Context("option vm.cpu_readback"));
    } else if (key == "vm.cmdline_extra") {
      o.cmdline_extra = value;
    } else if (key == "vm.ready_timeout_s") {
      ISO_ASSIGN_OR_RETURN(double s, ParseSeconds(key, value));
      o.ready_timeout = Millis(s);
    } else if (key == "vm.shutdown_timeout_s") {
      ISO_ASSIGN_OR_RETURN(double s, ParseSeconds(key, value));
      o.shutdown_timeout = Millis(s);
    } else if (key == "vm.kvm_probe_timeout_s") {
      ISO_ASSIGN_OR_RETURN(double s, ParseSeconds(key, value));
      o.kvm_probe_timeout = Millis(s);
    } else if (key == "vm.hugepages") {
      ISO_ASSIGN_OR_RETURN(o.hugepages, ParseBool(key, value));
    } else if (key == "vm.pin") {
      ISO_ASSIGN_OR_RETURN(o.pin, ParseCpuList(key, value));
    } else if (key == "vm.disk_cache") {
      o.disk_cache = value;
    } else if (key == "vm.disk_io") {
      o.disk_io = value;
    } else if (key == "vm.socket_dir") {
      if (value.empty() || value.front() != '/')
        return Error("option vm.socket_dir=`" + value + "`: expected an absolute path", EINVAL);
      o.socket_dir = value;
    } else if (key == "vm.emulator") {
      o.emulator = value;
    } else if (key == "vm.row_suffix") {
      // Instance names carry it ("warmup-qemu-raw" + suffix), and have a length limit.
      bool ok = value.size() >= 2 && value.size() <= 24 && value.front() == '-';
      for (char c : value)
        ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-');
      if (!ok)
        return Error("option vm.row_suffix=`" + value +
                         "`: expected '-' then lower-case letters, digits and '-' (at most 24)",
                     EINVAL);
      o.row_suffix = value;
    } else {
      return Error("unknown option `" + key +
                       "` (known: vm.uri, vm.accel, vm.machine, vm.cpu_readback, "
                       "vm.cmdline_extra, "
                       "vm.ready_timeout_s, vm.shutdown_timeout_s, vm.kvm_probe_timeout_s, "
                       "vm.hugepages, vm.pin, vm.disk_cache, vm.disk_io, vm.socket_dir, "
                       "vm.emulator, vm.row_suffix)",
                   EINVAL);
    }
  }
  return o;
}

}  // namespace isobench::vm
