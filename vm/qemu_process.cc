#include "vm/qemu_process.h"

#include <dirent.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <vector>

#include "harness/fd.h"

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
  DIR* dir = ::opendir("/proc");
  if (!dir) return Error::Errno("opendir", "/proc");
  pid_t found = -1;
  while (struct dirent* entry = ::readdir(dir)) {
    char* end = nullptr;
    long pid = std::strtol(entry->d_name, &end, 10);
    if (pid <= 0 || *end != '\0') continue;
    if (IsQemuOf(static_cast<pid_t>(pid), domain_name)) {
      found = static_cast<pid_t>(pid);
      break;
    }
  }
  ::closedir(dir);
  if (found < 0) return Error("no qemu process runs domain `" + domain_name + "`", ENOENT);
  return found;
}

Result<void> RemoveDomainLogs(const std::string& domain_name, const std::string& log_dir) {
  DIR* dir = ::opendir(log_dir.c_str());
  if (!dir) {
    if (errno == ENOENT) return {};
    return Error::Errno("opendir", log_dir);
  }
  const std::string base = domain_name + ".log";
  std::vector<std::string> doomed;
  while (struct dirent* entry = ::readdir(dir)) {
    std::string name = entry->d_name;
    // Exactly "<domain>.log" or "<domain>.log.<digits>": never another domain whose
    // name merely starts with this one.
    if (name == base ||
        (name.rfind(base + ".", 0) == 0 && name.size() > base.size() + 1 &&
         name.find_first_not_of("0123456789", base.size() + 1) == std::string::npos))
      doomed.push_back(log_dir + "/" + name);
  }
  ::closedir(dir);
  for (const std::string& path : doomed)
    if (::unlink(path.c_str()) < 0 && errno != ENOENT) return Error::Errno("unlink", path);
  return {};
}

bool ProcessAlive(pid_t pid) {
  if (pid <= 0) return false;
  auto stat = harness::ReadFile("/proc/" + std::to_string(pid) + "/stat");
  if (!stat.ok()) return false;
  size_t close = stat->rfind(')');
  return close != std::string::npos && close + 2 < stat->size() && (*stat)[close + 2] != 'Z';
}

}  // namespace isobench::vm
