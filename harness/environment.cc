#include "harness/environment.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "harness/fd.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

namespace isobench::harness {
namespace {

std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string ReadOr(const std::string& path, const std::string& fallback = "unknown") {
  auto r = ReadFile(path);
  return r.ok() ? Trimmed(*r) : fallback;
}

std::string CpuModel() {
  auto r = ReadFile("/proc/cpuinfo");
  if (!r.ok()) return "unknown";
  std::istringstream in(*r);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      size_t colon = line.find(':');
      if (colon != std::string::npos) return Trimmed(line.substr(colon + 2));
    }
  }
  return "unknown";
}

std::string MeminfoKb(const std::string& key) {
  auto r = ReadFile("/proc/meminfo");
  if (!r.ok()) return "unknown";
  std::istringstream in(*r);
  std::string k, v;
  while (in >> k >> v) {
    if (k == key + ":") return v;
    in.ignore(1 << 10, '\n');
  }
  return "unknown";
}

std::string KvmModules() {
  std::string found;
  for (const char* m : {"kvm_intel", "kvm_amd", "kvm_pvm", "kvm"}) {
    if (::access((std::string("/sys/module/") + m).c_str(), F_OK) == 0)
      found += (found.empty() ? "" : ",") + std::string(m);
  }
  return found.empty() ? "none" : found;
}

// "always [madvise] never" -> "madvise"
std::string Bracketed(const std::string& text) {
  size_t open = text.find('['), close = text.find(']');
  if (open == std::string::npos || close == std::string::npos) return text;
  return text.substr(open + 1, close - open - 1);
}

}  // namespace

std::string DetectCgroupMode() {
  struct statfs fs;
  if (::statfs("/sys/fs/cgroup", &fs) != 0) return "none";
  if (fs.f_type == CGROUP2_SUPER_MAGIC) return "v2";
  if (::statfs("/sys/fs/cgroup/unified", &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC)
    return "hybrid";
  return "v1";
}

std::string HypervisorName(std::string_view signature) {
  // Trailing NULs pad short signatures ("KVMKVMKVM\0\0\0").
  std::string sig(signature);
  while (!sig.empty() && (sig.back() == '\0' || sig.back() == ' ')) sig.pop_back();
  static const std::pair<const char*, const char*> kKnown[] = {
      {"TCGTCGTCGTCG", "tcg"},   {"KVMKVMKVM", "kvm"},       {"Microsoft Hv", "hyperv"},
      {"VMwareVMware", "vmware"}, {"XenVMMXenVMM", "xen"},   {"bhyve bhyve", "bhyve"},
      {"ACRNACRNACRN", "acrn"},  {"QNXQVMBSQG", "qnx"},     {"VBoxVBoxVBox", "virtualbox"},
      {" lrpepyh  vr", "parallels"}};
  for (const auto& [known, name] : kKnown)
    if (sig == known) return name;
  // Unknown vendor: keep what it says, printable only.
  std::string out;
  for (char c : sig) out += (c >= 0x21 && c < 0x7f) ? c : '_';
  return out.empty() ? "unknown" : out;
}

std::string HypervisorFrom(bool cpuid_hypervisor_bit, std::string_view signature,
                           std::string_view cmdline, std::string_view env) {
  if (cpuid_hypervisor_bit) {
    std::string name = HypervisorName(signature);
    if (name != "unknown") return name;
  }
  // The marker: the kernel command line first (set by whoever started this VM), then
  // the environment.
  std::string line(cmdline);
  for (size_t at = 0; (at = line.find("isobench.nested=", at)) != std::string::npos; ++at) {
    if (at != 0 && line[at - 1] != ' ') continue;
    size_t begin = at + std::strlen("isobench.nested="), end = line.find_first_of(" \n", begin);
    std::string value = line.substr(begin, end == std::string::npos ? end : end - begin);
    if (!value.empty()) return value;
  }
  if (!env.empty()) return std::string(env);
  return cpuid_hypervisor_bit ? "unknown" : "none";
}

std::string DetectHypervisor() {
  bool bit = false;
  char signature[12] = {};
#if defined(__x86_64__) || defined(__i386__)
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & (1u << 31))) {
    bit = true;
    __cpuid(0x40000000, eax, ebx, ecx, edx);
    std::memcpy(signature, &ebx, 4);
    std::memcpy(signature + 4, &ecx, 4);
    std::memcpy(signature + 8, &edx, 4);
  }
#endif
  const char* env = std::getenv("ISOBENCH_NESTED");
  return HypervisorFrom(bit, std::string_view(signature, sizeof signature),
                        ReadOr("/proc/cmdline", ""), env ? env : "");
}

std::map<std::string, std::string> CaptureEnvironment() {
  std::map<std::string, std::string> env;
  struct utsname uts;
  ::uname(&uts);
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  env["env.hostname"] = host;
  env["env.kernel"] = uts.release;
  env["env.arch"] = uts.machine;
  env["env.cpu_model"] = CpuModel();
  env["env.cpus_online"] = std::to_string(::sysconf(_SC_NPROCESSORS_ONLN));
  env["env.mem_total_kb"] = MeminfoKb("MemTotal");
  env["env.mem_available_kb"] = MeminfoKb("MemAvailable");
  env["env.cgroup_mode"] = DetectCgroupMode();
  env["env.kvm_modules"] = KvmModules();
  env["env.hypervisor"] = DetectHypervisor();
  env["env.ksm_run"] = ReadOr("/sys/kernel/mm/ksm/run");
  env["env.thp_enabled"] = Bracketed(ReadOr("/sys/kernel/mm/transparent_hugepage/enabled"));
  env["env.cpu_governor"] =
      ReadOr("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", "unavailable");
  env["env.debian_version"] = ReadOr("/etc/debian_version");
#ifdef ISOBENCH_GIT_REVISION
  env["env.git_revision"] = ISOBENCH_GIT_REVISION;
#endif
#ifdef ISOBENCH_VERSION
  env["env.isobench_version"] = ISOBENCH_VERSION;
#endif
  return env;
}

}  // namespace isobench::harness
