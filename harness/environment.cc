#include "harness/environment.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#include <sched.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "git_revision.h"  // generated: harness/git_revision.cmake
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

std::string FormatCpuList(const std::vector<int>& cpus) {
  std::string out;
  for (size_t i = 0; i < cpus.size();) {
    size_t j = i;
    while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1) ++j;
    if (!out.empty()) out += ",";
    out += std::to_string(cpus[i]);
    if (j > i) out += "-" + std::to_string(cpus[j]);
    i = j + 1;
  }
  return out.empty() ? "none" : out;
}

std::map<std::string, std::string> CpuPlacement() {
  std::map<std::string, std::string> env;
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> allowed;
  if (::sched_getaffinity(0, sizeof set, &set) == 0) {
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu)
      if (CPU_ISSET(cpu, &set)) allowed.push_back(cpu);
  }
  long online = ::sysconf(_SC_NPROCESSORS_ONLN);
  env["env.harness_cpus"] = allowed.empty() ? "unknown" : FormatCpuList(allowed);
  // "all" when the harness may run anywhere (the OS places it), "pinned" when its
  // affinity is narrower than the online CPUs (taskset, a cpuset, systemd's AllowedCPUs).
  env["env.harness_cpu_pinning"] = allowed.empty() ? "unknown"
                                   : static_cast<long>(allowed.size()) < online
                                       ? "pinned"
                                       : "none (all online CPUs)";
  env["env.cpus_isolated"] = ReadOr("/sys/devices/system/cpu/isolated", "unavailable");
  if (env["env.cpus_isolated"].empty()) env["env.cpus_isolated"] = "none";
  // The cgroup CPU limit the harness runs under, if any (v2 cpu.max or v1 quota): a
  // throttled run must not pass for an unthrottled one.
  std::string limit = "none";
  auto self = ReadFile("/proc/self/cgroup");
  if (self.ok()) {
    std::istringstream in(*self);
    std::string line;
    while (std::getline(in, line)) {
      size_t a = line.find(':'), b = line.find(':', a + 1);
      if (a == std::string::npos || b == std::string::npos) continue;
      std::string controllers = line.substr(a + 1, b - a - 1);
      std::string path = line.substr(b + 1);
      if (controllers.empty()) {
        std::string max = ReadOr("/sys/fs/cgroup" + path + "/cpu.max", "");
        if (max.empty()) max = ReadOr("/sys/fs/cgroup/unified" + path + "/cpu.max", "");
        if (!max.empty() && max.rfind("max", 0) != 0) limit = "cpu.max " + max;
      } else if (controllers.find("cpu") != std::string::npos &&
                 controllers.find("cpuset") == std::string::npos) {
        std::string quota =
            ReadOr("/sys/fs/cgroup/" + controllers + path + "/cpu.cfs_quota_us", "");
        std::string period =
            ReadOr("/sys/fs/cgroup/" + controllers + path + "/cpu.cfs_period_us", "");
        if (!quota.empty() && quota != "-1") limit = "cfs_quota_us " + quota + " / " + period;
      }
    }
  }
  env["env.harness_cpu_limit"] = limit;
  return env;
}

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
      {"TCGTCGTCGTCG", "tcg"},      {"KVMKVMKVM", "kvm"},    {"Microsoft Hv", "hyperv"},
      {"VMwareVMware", "vmware"},   {"XenVMMXenVMM", "xen"}, {"bhyve bhyve", "bhyve"},
      {"ACRNACRNACRN", "acrn"},     {"QNXQVMBSQG", "qnx"},   {"VBoxVBoxVBox", "virtualbox"},
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
  for (auto& [k, v] : CpuPlacement()) env[k] = v;
  env["env.git_revision"] = ISOBENCH_GIT_REVISION;
#ifdef ISOBENCH_VERSION
  env["env.isobench_version"] = ISOBENCH_VERSION;
#endif
  return env;
}

}  // namespace isobench::harness
