#include "harness/environment.h"

#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "harness/fd.h"
#include "git_revision.h"  // generated: harness/git_revision.cmake

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
  env["env.ksm_run"] = ReadOr("/sys/kernel/mm/ksm/run");
  env["env.thp_enabled"] = Bracketed(ReadOr("/sys/kernel/mm/transparent_hugepage/enabled"));
  env["env.cpu_governor"] =
      ReadOr("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", "unavailable");
  env["env.debian_version"] = ReadOr("/etc/debian_version");
  env["env.git_revision"] = ISOBENCH_GIT_REVISION;
#ifdef ISOBENCH_VERSION
  env["env.isobench_version"] = ISOBENCH_VERSION;
#endif
  return env;
}

}  // namespace isobench::harness
