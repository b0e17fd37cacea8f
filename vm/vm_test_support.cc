#include "vm/vm_test_support.h"

#include <sys/stat.h>

#include "harness/fd.h"
#include "vm/connection.h"

namespace isobench::vm::testing {

std::optional<std::string> LibvirtUnreachable(const std::string& uri) {
  auto conn = LibvirtConnection::Open(uri);
  if (!conn.ok()) return conn.error().message() + " (start it: virtlogd -d; libvirtd -d)";
  return std::nullopt;
}

harness::Result<harness::GuestImage> BuildTestImage(const std::vector<std::string>& modules,
                                                    const std::string& kernel_path) {
  std::string kernel = kernel_path;
  if (kernel.empty()) {
    ISO_ASSIGN_OR_RETURN(kernel, harness::FindHostGuestKernel());
  }
  harness::ImageOptions options;
  options.workdir = kTestWorkdir;
  options.agent_binary = harness::DefaultAgentPath();
  options.kernel = kernel;
  options.want_vm = true;
  options.modules = modules;
  return harness::BuildImage(options);
}

std::vector<std::string> DomainsWithPrefix(const std::string& uri, const std::string& prefix) {
  std::vector<std::string> out;
  auto conn = LibvirtConnection::Open(uri);
  if (!conn.ok()) return out;
  auto names = conn->ListAllDomainNames();
  if (!names.ok()) return out;
  for (auto& n : *names)
    if (n.rfind(prefix, 0) == 0) out.push_back(n);
  return out;
}

std::vector<std::string> FilesUnder(const std::string& dir) {
  std::vector<std::string> out;
  auto names = harness::ListDir(dir);
  if (!names.ok()) return out;
  for (const std::string& name : *names) {
    std::string path = dir + "/" + name;
    out.push_back(path);
    struct stat st;
    if (::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
      for (auto& sub : FilesUnder(path)) out.push_back(sub);
  }
  return out;
}

std::vector<std::string> InstanceFilesUnder(const std::string& dir) {
  std::vector<std::string> out;
  for (const std::string& path : FilesUnder(dir)) {
    struct stat st;
    bool is_dir = ::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
    if (!is_dir && path.substr(path.rfind('/') + 1) != "owner") out.push_back(path);
  }
  return out;
}

}  // namespace isobench::vm::testing
