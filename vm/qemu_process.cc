#include "vm/qemu_process.h"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <vector>

#include "harness/fd.h"
#include "harness/procfs.h"

namespace isobench::vm {

using harness::Error;
using harness::Result;

bool IsQemuOf(pid_t pid, const std::string& domain_name) {
  auto cmdline = harness::ReadFile("/proc/" + std::to_string(pid) + "/cmdline");
  if (!cmdline.ok()) return false;
  // libvirt passes "-name guest=<name>,debug-threads=on"; commas in the name would be
  // doubled, but isobench names contain none.
  const std::string needle = "guest=" + domain_name;
  const std::string& text = *cmdline;
  for (size_t pos = 0; (pos = text.find(needle, pos)) != std::string::npos; ++pos) {
    bool starts_arg = pos == 0 || text[pos - 1] == '\0';
    size_t end = pos + needle.size();
    bool ends_value = end == text.size() || text[end] == ',' || text[end] == '\0';
    if (starts_arg && ends_value) return true;
  }
  return false;
}

Result<pid_t> FindQemuPid(const std::string& domain_name, const std::string& pid_dir) {
  auto content = harness::ReadFile(pid_dir + "/" + domain_name + ".pid");
  if (content.ok()) {
    pid_t pid = static_cast<pid_t>(std::strtol(content->c_str(), nullptr, 10));
    if (pid > 0 && IsQemuOf(pid, domain_name)) return pid;
  }
  ISO_ASSIGN_OR_RETURN(std::vector<pid_t> pids, harness::ListPids());
  for (pid_t pid : pids)
    if (IsQemuOf(pid, domain_name)) return pid;
  return Error("no qemu process runs domain `" + domain_name + "`", ENOENT);
}

Result<void> RemoveDomainLogs(const std::string& domain_name, const std::string& log_dir) {
  auto names = harness::ListDir(log_dir);
  if (!names.ok()) return names.error().errno_value() == ENOENT ? Result<void>() : names.error();
  const std::string base = domain_name + ".log";
  std::vector<std::string> doomed;
  for (const std::string& name : *names) {
    // Exactly "<domain>.log" or "<domain>.log.<digits>": never another domain whose
    // name merely starts with this one.
    if (name == base ||
        (name.rfind(base + ".", 0) == 0 && name.size() > base.size() + 1 &&
         name.find_first_not_of("0123456789", base.size() + 1) == std::string::npos))
      doomed.push_back(log_dir + "/" + name);
  }
  for (const std::string& path : doomed)
    if (::unlink(path.c_str()) < 0 && errno != ENOENT) return Error::Errno("unlink", path);
  return {};
}

bool ProcessAlive(pid_t pid) {
  if (pid <= 0) return false;
  auto stat = harness::ReadProcStat(pid);
  return stat.ok() && stat->state != 'Z' && stat->state != 'X';
}

}  // namespace isobench::vm
