#include "vm/accelerator.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "harness/environment.h"

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
  if (root.empty()) facts.hypervisor = harness::DetectHypervisor();
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

std::string NestingLabel(Accelerator accelerator, const KvmFacts& facts) {
  if (accelerator != Accelerator::kKvm || facts.hypervisor.empty()) return "none";
  return facts.hypervisor;
}

std::chrono::milliseconds DefaultKvmProbeTimeout(const KvmFacts& facts) {
  if (facts.hypervisor != "none" && !facts.hypervisor.empty()) return std::chrono::seconds(150);
  return std::chrono::seconds(20);
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

namespace {

Result<AcceleratorChoice> Choose(std::string_view requested, const KvmFacts& facts,
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
  std::string nested = NestingLabel(Accelerator::kKvm, facts);
  return AcceleratorChoice{Accelerator::kKvm,
                           "kvm: " + module + " loaded, probe boot ready in " + seconds + " s" +
                               (nested == "none" ? "" : "; nested under " + nested)};
}

}  // namespace

Result<AcceleratorChoice> ChooseAccelerator(std::string_view requested, const KvmFacts& facts,
                                            const KvmProbeBoot& probe,
                                            std::chrono::milliseconds probe_timeout) {
  ISO_ASSIGN_OR_RETURN(AcceleratorChoice choice, Choose(requested, facts, probe, probe_timeout));
  choice.nested = NestingLabel(choice.accelerator, facts);
  return choice;
}

}  // namespace isobench::vm
