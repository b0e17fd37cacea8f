// Which accelerator a VM gets: KVM when it really works here, TCG otherwise.
//
// /dev/kvm existing is not enough. On a PVM host (/sys/module/kvm_pvm) /dev/kvm is
// present but a stock guest kernel hangs right after decompression. KVM counts as usable
// only if /dev/kvm exists, kvm_intel or kvm_amd is loaded (kvm_pvm is not), and a short
// probe boot under KVM reaches the agent before a timeout. Every result is labelled with
// the accelerator used and the reason it was chosen.
//
// A KVM guest made on a host that is itself a guest is nested: on the nested KVM host of
// ci/nested_kvm.sh (an L1 VM under QEMU's TCG that offers AMD-V) it runs at about
// emulation speed. Such results are labelled vm.nested = <outer hypervisor> and are
// never a KVM baseline; the probe boot gets longer to answer there.
//
//   KvmFacts facts = ReadKvmFacts();
//   ISO_ASSIGN_OR_RETURN(AcceleratorChoice choice,
//                        ChooseAccelerator("auto", facts, [&](auto timeout) {
//                          return BootProbeGuest(Accelerator::kKvm, timeout);
//                        }));
//   // choice.accelerator == Accelerator::kTcg, choice.reason == "tcg: /dev/kvm is PVM ..."
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "harness/error.h"
#include "vm/guest_config.h"

namespace isobench::vm {

struct KvmFacts {
  bool dev_kvm = false;    // /dev/kvm is a character device we can open read-write
  bool kvm_intel = false;  // /sys/module/kvm_intel
  bool kvm_amd = false;    // /sys/module/kvm_amd
  bool kvm_pvm = false;    // /sys/module/kvm_pvm
  // The hypervisor this host runs under (harness::DetectHypervisor): "none" on bare
  // metal. Not read from `root`.
  std::string hypervisor = "none";
};

// Reads the facts from the running host. `root` prefixes every path (tests).
KvmFacts ReadKvmFacts(const std::string& root = "");

// "vm.nested": the outer hypervisor when `accelerator` is KVM on a host that is itself
// a guest ("tcg" on the nested KVM host of ci/nested_kvm.sh), "none" otherwise. TCG is
// emulation wherever it runs: never nested.
std::string NestingLabel(Accelerator accelerator, const KvmFacts& facts);

// The probe boot's limit when vm.kvm_probe_timeout_s is not given: 20 s, time for a
// guest with working KVM and room to spare, enough to tell a PVM hang. On a host that is
// a guest itself, nested KVM boots Debian's kernel at about emulation speed (~30 s to
// its first line under TCG-emulated AMD-V on 2 cores), so there the limit is 150 s.
std::chrono::milliseconds DefaultKvmProbeTimeout(const KvmFacts& facts);

// Why the module facts rule KVM out, or nullopt when a probe boot should decide.
std::optional<std::string> KvmRuledOutBy(const KvmFacts& facts);

struct AcceleratorChoice {
  Accelerator accelerator = Accelerator::kTcg;
  std::string reason;           // "kvm: kvm_amd loaded, probe boot ready in 1.2 s", "tcg: ..."
  std::string nested = "none";  // NestingLabel: "vm.nested" of every result
};

// Boots a throw-away guest under KVM; ok if its agent became ready within `timeout`.
using KvmProbeBoot = std::function<harness::Result<double>(std::chrono::milliseconds timeout)>;

// `requested`: "auto" (or empty) decides from the facts and the probe; "tcg" always
// gives TCG; "kvm" gives KVM without a probe but fails when /dev/kvm is absent.
harness::Result<AcceleratorChoice> ChooseAccelerator(
    std::string_view requested, const KvmFacts& facts, const KvmProbeBoot& probe,
    std::chrono::milliseconds probe_timeout = std::chrono::seconds(20));

}  // namespace isobench::vm
