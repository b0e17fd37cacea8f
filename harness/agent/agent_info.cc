// The `info` op: the instance as its init sees it.
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>

#include "harness/agent/agent.h"
#include "harness/procfs.h"

namespace isobench::agent {
namespace {

nlohmann::json Namespaces() {
  nlohmann::json ns = nlohmann::json::object();
  for (const char* kind : {"cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"}) {
    char target[128];
    std::string path = std::string("/proc/self/ns/") + kind;
    ssize_t n = ::readlink(path.c_str(), target, sizeof target - 1);
    if (n <= 0) continue;
    target[n] = '\0';
    // "mnt:[4026531840]" -> 4026531840
    const char* open = std::strchr(target, '[');
    if (open) ns[kind] = std::strtoull(open + 1, nullptr, 10);
  }
  return ns;
}

nlohmann::json Mounts() {
  nlohmann::json mounts = nlohmann::json::array();
  for (const auto& m : harness::ReadMountInfo().ValueOrThrow())
    mounts.push_back({{"target", m.target},
                      {"root", m.root},
                      {"fstype", m.fstype},
                      {"source", m.source},
                      {"options", m.options},
                      {"propagation", m.propagation},
                      {"super_options", m.super_options}});
  return mounts;
}

nlohmann::json Interfaces() {
  nlohmann::json names = nlohmann::json::array();
  std::istringstream in(ReadSmallFile("/proc/net/dev"));
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    if (n++ < 2) continue;  // two header lines
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    name.erase(0, name.find_first_not_of(' '));
    names.push_back(name);
  }
  return names;
}

nlohmann::json StatusFields() {
  nlohmann::json status = nlohmann::json::object();
  std::istringstream in(ReadSmallFile("/proc/self/status"));
  std::string line;
  while (std::getline(in, line)) {
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = line.substr(0, colon);
    for (const char* wanted : {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs",
                               "Seccomp", "Uid", "Gid", "NSpid"}) {
      if (key == wanted) {
        std::string value = line.substr(colon + 1);
        value.erase(0, value.find_first_not_of(" \t"));
        status[key] = value;
      }
    }
  }
  return status;
}

uint64_t MemTotalKb() {
  std::istringstream in(ReadSmallFile("/proc/meminfo"));
  std::string key;
  uint64_t value = 0;
  in >> key >> value;
  return key == "MemTotal:" ? value : 0;
}

}  // namespace

nlohmann::json HandleInfo(const nlohmann::json&, const std::string& mode) {
  struct utsname uts;
  ::uname(&uts);
  return {{"mode", mode},
          {"pid", ::getpid()},
          {"ppid", ::getppid()},
          {"uid", ::getuid()},
          {"gid", ::getgid()},
          {"hostname", uts.nodename},
          {"kernel", uts.release},
          {"namespaces", Namespaces()},
          {"cgroup", ReadSmallFile("/proc/self/cgroup")},
          {"mounts", Mounts()},
          {"interfaces", Interfaces()},
          {"status", StatusFields()},
          {"uptime_s", std::atof(ReadSmallFile("/proc/uptime").c_str())},
          {"mem_total_kb", MemTotalKb()},
          {"cpus", ::sysconf(_SC_NPROCESSORS_ONLN)}};
}

}  // namespace isobench::agent
