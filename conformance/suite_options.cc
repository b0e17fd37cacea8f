#include "conformance/suite_options.h"

#include <dirent.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "harness/cli/builtin_backends.h"
#include "harness/session.h"

namespace isobench::conformance {

using harness::Error;
using harness::Result;

namespace {

bool Listed(const std::vector<std::string>& list, const std::string& name) {
  return std::find(list.begin(), list.end(), name) != list.end();
}

std::string OptionOr(const std::map<std::string, std::string>& options, const std::string& key,
                     const std::string& fallback) {
  auto it = options.find(key);
  return it == options.end() || it->second.empty() ? fallback : it->second;
}

bool ExecutableOnPath(const std::string& binary) {
  if (binary.find('/') != std::string::npos) return ::access(binary.c_str(), X_OK) == 0;
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (const auto& dir : harness::SplitList(dirs.empty() ? "/usr/bin" : dirs))
    if (::access((dir + "/" + binary).c_str(), X_OK) == 0) return true;
  return false;
}

// True when something listens on the unix socket at `path`.
bool SocketAnswers(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  bool ok = ::connect(fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

std::optional<std::string> AbsenceOf(const std::string& backend,
                                     const std::map<std::string, std::string>& options,
                                     const std::string& kernel) {
  if (backend == "runc" || backend == "crun" || backend == "youki" || backend == "runsc") {
    std::string binary = OptionOr(options, backend + ".path", backend);
    if (!ExecutableOnPath(binary)) return "`" + binary + "` is not installed";
    return std::nullopt;
  }
  if (backend == "oci") {
    std::string binary = OptionOr(options, "oci.path", OptionOr(options, "oci.runtime", ""));
    if (binary.empty()) return std::string("no runtime given (--option=oci.runtime=PATH)");
    if (!ExecutableOnPath(binary)) return "`" + binary + "` is not installed";
    return std::nullopt;
  }
  if (backend == "docker") {
    if (options.count("docker.host") || std::getenv("DOCKER_HOST")) return std::nullopt;
    for (const char* sock : {"/run/docker.sock", "/var/run/docker.sock"})
      if (SocketAnswers(sock)) return std::nullopt;
    return std::string("no Docker Engine: nothing answers on /run/docker.sock");
  }
  if (backend == "vm") {
    std::string uri = OptionOr(options, "vm.uri", "qemu:///system");
    if (uri == "qemu:///system" && !SocketAnswers("/run/libvirt/libvirt-sock") &&
        !SocketAnswers("/var/run/libvirt/libvirt-sock"))
      return std::string("no libvirtd: nothing answers on /run/libvirt/libvirt-sock");
    if (kernel.empty()) {
      bool any = false;
      if (DIR* boot = ::opendir("/boot")) {
        while (struct dirent* e = ::readdir(boot))
          if (std::string(e->d_name).rfind("vmlinuz-", 0) == 0) any = true;
        ::closedir(boot);
      }
      if (!any) return std::string("no guest kernel: /boot/vmlinuz-* not found");
    }
    return std::nullopt;
  }
  return std::nullopt;  // the native runtime and the host reference are always present
}

Result<SuiteOptions> ParseSuiteOptions(int* argc, char** argv) {
  SuiteOptions options;
  if (const char* out = std::getenv("ISOBENCH_CONFORMANCE_OUT")) options.verdicts_out = out;
  int kept = 1;
  for (int i = 1; i < *argc; ++i) {
    std::string arg = argv[i];
    auto take = [&](const char* prefix, std::string* into) {
      size_t n = std::strlen(prefix);
      if (arg.compare(0, n, prefix) != 0) return false;
      *into = arg.substr(n);
      return true;
    };
    std::string value;
    if (take("--backends=", &value)) {
      options.backends = harness::SplitList(value);
    } else if (take("--require=", &value)) {
      for (const auto& name : harness::SplitList(value))
        if (name != "all") options.require.push_back(name);
    } else if (take("--workdir=", &options.workdir) || take("--kernel=", &options.kernel) ||
               take("--mutation_backend=", &options.mutation_backend) ||
               take("--verdicts_out=", &options.verdicts_out)) {
    } else if (take("--vm-uri=", &value)) {
      options.backend_options["vm.uri"] = value;
    } else if (take("--vm-accel=", &value)) {
      options.backend_options["vm.accel"] = value;
    } else if (take("--option=", &value)) {
      size_t eq = value.find('=');
      if (eq == std::string::npos)
        return Error("--option wants KEY=VALUE, got `" + value + "`", EINVAL);
      options.backend_options[value.substr(0, eq)] = value.substr(eq + 1);
    } else if (arg.rfind("--", 0) == 0) {
      return Error("unknown flag `" + arg +
                       "` (isobench flags: --backends= --require= --workdir= --kernel= --vm-uri= --vm-accel= "
                       "--option=K=V --mutation_backend= --verdicts_out=)",
                   EINVAL);
    } else {
      argv[kept++] = argv[i];
    }
  }
  *argc = kept;
  argv[kept] = nullptr;
  // A required backend is selected, and must be one this build knows.
  for (const auto& name : options.require) {
    if (name != "host" && !harness::BuiltinBackends().Has(name)) {
      std::string known = "host";
      for (const auto& n : harness::BuiltinBackends().Names()) known += ", " + n;
      return Error("--require: unknown backend `" + name + "` (known: " + known + ")", EINVAL);
    }
    bool all = options.backends.empty() ||
               (options.backends.size() == 1 && options.backends[0] == "all");
    if (!all && !Listed(options.backends, name)) options.backends.push_back(name);
  }
  return options;
}

}  // namespace isobench::conformance
