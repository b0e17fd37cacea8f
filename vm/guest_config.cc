#include "vm/guest_config.h"

#include <cerrno>
#include <cmath>

#include "harness/backend.h"

namespace isobench::vm {

using harness::Error;
using harness::Result;

std::string_view AcceleratorName(Accelerator accelerator) {
  return accelerator == Accelerator::kKvm ? "kvm" : "tcg";
}

std::string_view MachineTypeName(MachineType machine) {
  switch (machine) {
    case MachineType::kPc:
      return "pc";
    case MachineType::kQ35:
      return "q35";
    case MachineType::kMicrovm:
      return "microvm";
  }
  return "pc";
}

Result<MachineType> ParseMachineType(std::string_view text) {
  if (text == "pc") return MachineType::kPc;
  if (text == "q35") return MachineType::kQ35;
  if (text == "microvm") return MachineType::kMicrovm;
  return Error("unknown machine type `" + std::string(text) + "` (known: pc, q35, microvm)",
               EINVAL);
}

std::string_view CpuReadbackName(CpuReadback readback) {
  return readback == CpuReadback::kPerFeature ? "features" : "words";
}

Result<CpuReadback> ParseCpuReadback(std::string_view text) {
  if (text == "words") return CpuReadback::kFeatureWords;
  if (text == "features") return CpuReadback::kPerFeature;
  return Error("unknown CPU read-back `" + std::string(text) + "` (known: words, features)",
               EINVAL);
}

std::string DefaultKernelCmdline(std::string_view extra) {
  // earlyprintk=ttyS0: the real-mode setup code already writes to ttyS0 ("Probing
  // EDD", arch/x86/boot/early_serial_console.c), so first_console_byte marks "firmware
  // done, kernel setup running", and the early console prints the "Linux version" banner
  // right after decompression instead of when the 8250 driver registers much later.
  // loglevel=6: the banner is printk(KERN_NOTICE) (init/main.c), printed only when the
  // console loglevel is above 5; `quiet` (4) would hide it. KERN_INFO stays off the
  // slow emulated UART.
  // panic=-1 + reboot=t: a panicking guest reboots at once (triple fault, no ACPI or
  // keyboard controller needed) and <on_reboot>destroy</on_reboot> ends the domain, so
  // the host sees a dead domain instead of waiting for its timeout.
  // i8042.*: no PS/2 controller probing; libvirt always adds one on pc/q35 and probing it
  // under TCG costs boot time that is not part of what isobench measures.
  std::string cmdline =
      "console=ttyS0 earlyprintk=ttyS0 isobench.channel=/dev/ttyS1 loglevel=6 panic=-1 "
      "reboot=t i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd";
  if (!extra.empty()) {
    cmdline += ' ';
    cmdline += extra;
  }
  return cmdline;
}

namespace {

Result<void> CheckAbsolute(std::string_view what, const std::string& path, bool required) {
  if (path.empty()) {
    if (required) return Error(std::string(what) + " path is empty", EINVAL);
    return {};
  }
  if (path.front() != '/')
    return Error(std::string(what) + " path `" + path + "` is not absolute", EINVAL);
  return {};
}

Result<void> CheckSocket(std::string_view what, const std::string& path) {
  ISO_RETURN_IF_ERROR(CheckAbsolute(what, path, true));
  if (path.size() > kMaxUnixSocketPath)
    return Error(std::string(what) + " socket path `" + path + "` is " +
                     std::to_string(path.size()) + " bytes; unix sockets allow " +
                     std::to_string(kMaxUnixSocketPath),
                 ENAMETOOLONG);
  return {};
}

bool OneOf(const std::string& value, std::initializer_list<std::string_view> allowed) {
  for (auto a : allowed)
    if (value == a) return true;
  return false;
}

}  // namespace

Result<void> ValidateGuestConfig(const GuestConfig& guest) {
  if (guest.name.empty()) return Error("guest name is empty", EINVAL);
  for (char c : guest.name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.';
    if (!ok)
      return Error("guest name `" + guest.name + "` has characters outside [A-Za-z0-9_.-]", EINVAL);
  }
  if (guest.vcpus < 1 || guest.vcpus > 255)
    return Error("vcpus must be 1..255, got " + std::to_string(guest.vcpus), EINVAL);
  if (guest.memory_bytes < (16ull << 20))
    return Error("guest memory must be at least 16 MiB, got " + std::to_string(guest.memory_bytes) +
                     " bytes",
                 EINVAL);
  if (guest.memory_bytes % 1024 != 0)
    return Error("guest memory must be a multiple of 1 KiB", EINVAL);
  if (!guest.vcpu_pins.empty() && guest.vcpu_pins.size() != static_cast<size_t>(guest.vcpus))
    return Error("vcpu pinning lists " + std::to_string(guest.vcpu_pins.size()) +
                     " host CPUs for " + std::to_string(guest.vcpus) + " vCPUs",
                 EINVAL);
  for (int cpu : guest.vcpu_pins)
    if (cpu < 0) return Error("negative host CPU in vcpu pinning", EINVAL);
  if (guest.cpu_quota < 0 || !std::isfinite(guest.cpu_quota))
    return Error("cpu quota must be a non-negative number of CPUs", EINVAL);
  ISO_RETURN_IF_ERROR(harness::ValidateIoWeight(guest.io_weight));
  ISO_RETURN_IF_ERROR(CheckAbsolute("kernel", guest.kernel, true));
  ISO_RETURN_IF_ERROR(CheckAbsolute("initrd", guest.initrd, false));
  ISO_RETURN_IF_ERROR(CheckSocket("console", guest.console_socket));
  ISO_RETURN_IF_ERROR(CheckSocket("channel", guest.channel_socket));
  if (guest.console_socket == guest.channel_socket)
    return Error("console and channel must be different sockets", EINVAL);
  if (guest.disk) {
    ISO_RETURN_IF_ERROR(CheckAbsolute("disk", guest.disk->path, true));
    if (!OneOf(guest.disk->cache, {"none", "writeback", "writethrough", "directsync", "unsafe"}))
      return Error("unknown disk cache mode `" + guest.disk->cache + "`", EINVAL);
    if (!OneOf(guest.disk->io, {"native", "threads", "io_uring"}))
      return Error("unknown disk io mode `" + guest.disk->io + "`", EINVAL);
    // qemu: "aio=native was specified, but it requires cache.direct=on" — O_DIRECT is
    // what makes Linux AIO asynchronous at all.
    if (guest.disk->io == "native" && !OneOf(guest.disk->cache, {"none", "directsync"}))
      return Error("disk io=native needs cache=none or cache=directsync (O_DIRECT), got cache=" +
                       guest.disk->cache,
                   EINVAL);
  }
  if (guest.network) {
    if (!OneOf(guest.network->type, {"network", "bridge", "user"}))
      return Error(
          "unknown network type `" + guest.network->type + "` (known: network, bridge, user)",
          EINVAL);
    if (guest.network->type != "user" && guest.network->source.empty())
      return Error("network type `" + guest.network->type + "` needs a source name", EINVAL);
  }
  return {};
}

}  // namespace isobench::vm
