#include "vm/accelerator.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

namespace isobench::vm {

using harness::Error;
using harness::Result;

namespace {

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace

KvmFacts ReadKvmFacts(const std::string& root) {
  KvmFacts facts;
  // /proc/modules may be absent (a host kernel without module support still exposes
  // built-in modules' parameters under /sys/module/<name>); /sys/module covers both.
  facts.kvm_intel = Exists(root + "/sys/module/kvm_intel");
  facts.kvm_amd = Exists(root + "/sys/module/kvm_amd");
  facts.kvm_pvm = Exists(root + "/sys/module/kvm_pvm");
  struct stat st;
  std::string dev = root + "/dev/kvm";
  if (::stat(dev.c_str(), &st) == 0 && S_ISCHR(st.st_mode)) {
    int fd = ::open(dev.c_str(), O_RDWR | O_CLOEXEC);
    if (fd >= 0) {
      facts.dev_kvm = true;
      ::close(fd);
    }
  } else if (!root.empty() && Exists(dev)) {
    facts.dev_kvm = true;  // test fixtures use a regular file
  }
  return facts;
}

std::optional<std::string> KvmRuledOutBy(const KvmFacts& facts) {
  if (!facts.dev_kvm) return std::string("/dev/kvm is absent or cannot be opened read-write");
  if (facts.kvm_pvm && !facts.kvm_intel && !facts.kvm_amd)
    return std::string(
        "/dev/kvm is PVM (kvm_pvm loaded, no kvm_intel/kvm_amd): stock guest kernels hang "
        "under it");
  if (!facts.kvm_intel && !facts.kvm_amd)
    return std::string("neither kvm_intel nor kvm_amd is loaded");
  return std::nullopt;
}

Result<AcceleratorChoice> ChooseAccelerator(std::string_view requested, const KvmFacts& facts,
                                            const KvmProbeBoot& probe,
                                            std::chrono::milliseconds probe_timeout) {
  if (requested == "tcg") return AcceleratorChoice{Accelerator::kTcg, "tcg: requested"};
  if (requested == "kvm") {
    if (!facts.dev_kvm)
      return Error("vm accelerator kvm requested but /dev/kvm is absent or not usable", ENODEV);
    std::string note = "kvm: requested";
    if (auto why = KvmRuledOutBy(facts)) note += " (warning: " + *why + ")";
    return AcceleratorChoice{Accelerator::kKvm, note};
  }
  if (!requested.empty() && requested != "auto")
    return Error("unknown vm accelerator `" + std::string(requested) + "` (known: auto, kvm, tcg)",
                 EINVAL);

  if (auto why = KvmRuledOutBy(facts)) return AcceleratorChoice{Accelerator::kTcg, "tcg: " + *why};
  std::string module = facts.kvm_intel ? "kvm_intel" : "kvm_amd";
  if (!probe) return AcceleratorChoice{Accelerator::kKvm, "kvm: " + module + " loaded (no probe)"};
  auto ready = probe(probe_timeout);
  if (!ready.ok())
    return AcceleratorChoice{
        Accelerator::kTcg,
        "tcg: " + module + " loaded but a KVM probe boot failed: " + ready.error().message()};
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%.2f", *ready);
  return AcceleratorChoice{Accelerator::kKvm,
                           "kvm: " + module + " loaded, probe boot ready in " + seconds + " s"};
}

}  // namespace isobench::vm
