// isobench-agent: PID 1 of every container and VM. It prepares what an init must
// (VM mode only: mounts, modules), says ready on its control channel, then serves
// JSON-line requests one at a time until told to shut down. See protocol.md.
#include "harness/agent/agent.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "harness/agent/agent_serve.h"

namespace isobench::agent {
namespace {

int g_child_signal_fd = -1;

void Console(const std::string& text) {
  int fd = ::open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) fd = ::dup(STDERR_FILENO);
  if (fd < 0) return;
  std::string line = "isobench-agent: " + text + "\n";
  ssize_t ignored = ::write(fd, line.data(), line.size());
  (void)ignored;
  ::close(fd);
}

void MountIfMissing(const char* source, const char* target, const char* fstype, unsigned long flags,
                    const char* data) {
  ::mkdir(target, 0755);
  if (::mount(source, target, fstype, flags, data) != 0 && errno != EBUSY)
    Console(std::string("mount ") + fstype + " on " + target + ": " + std::strerror(errno));
}

// What an init must do before anything else runs in a VM: the kernel hands PID 1 an
// initramfs with nothing mounted.
void PrepareVmUserland() {
  MountIfMissing("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr);
  MountIfMissing("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr);
  MountIfMissing("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
  MountIfMissing("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
                 "newinstance,ptmxmode=0666,mode=620");
  MountIfMissing("shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
  MountIfMissing("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
  MountIfMissing("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755");
  MountIfMissing("cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr);
  Console("init started");
  // Debian's kernel builds virtio drivers as modules; the image lists them in
  // dependency order.
  std::istringstream modules(ReadSmallFile("/etc/isobench/modules"));
  std::string path;
  while (std::getline(modules, path)) {
    if (path.empty() || path[0] == '#') continue;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      Console("open module " + path + ": " + std::strerror(errno));
      continue;
    }
    if (::syscall(SYS_finit_module, fd, "", 0) != 0 && errno != EEXIST)
      Console("finit_module " + path + ": " + std::strerror(errno));
    ::close(fd);
  }
}

std::string KernelCmdlineValue(const std::string& key) {
  std::istringstream words(ReadSmallFile("/proc/cmdline"));
  std::string word;
  while (words >> word) {
    if (word.rfind(key + "=", 0) == 0) return word.substr(key.size() + 1);
  }
  return {};
}

// Up on `name`, and, when `cidr` ("10.203.0.7/16") is given, that address and its
// subnet's route (no default route: the guest reaches the host's bridge and nothing
// else). Returns what failed, or empty.
std::string ConfigureInterface(const std::string& name, const std::string& cidr) {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::string("socket: ") + std::strerror(errno);
  struct ifreq ifr = {};
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  std::string failed;
  if (!cidr.empty()) {
    size_t slash = cidr.find('/');
    int prefix = slash == std::string::npos ? 32 : std::atoi(cidr.c_str() + slash + 1);
    struct sockaddr_in addr = {};
    addr.sin_family = AF_INET;
    if (prefix < 1 || prefix > 32 ||
        ::inet_pton(AF_INET, cidr.substr(0, slash).c_str(), &addr.sin_addr) != 1) {
      ::close(fd);
      return "bad address `" + cidr + "`";
    }
    std::memcpy(&ifr.ifr_addr, &addr, sizeof addr);
    if (::ioctl(fd, SIOCSIFADDR, &ifr) != 0) failed = "SIOCSIFADDR";
    struct sockaddr_in mask = {};
    mask.sin_family = AF_INET;
    mask.sin_addr.s_addr = htonl(prefix == 32 ? ~0u : ~0u << (32 - prefix));
    std::memcpy(&ifr.ifr_netmask, &mask, sizeof mask);
    if (failed.empty() && ::ioctl(fd, SIOCSIFNETMASK, &ifr) != 0) failed = "SIOCSIFNETMASK";
  }
  if (failed.empty() && ::ioctl(fd, SIOCGIFFLAGS, &ifr) != 0) failed = "SIOCGIFFLAGS";
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP | IFF_RUNNING);
  if (failed.empty() && ::ioctl(fd, SIOCSIFFLAGS, &ifr) != 0) failed = "SIOCSIFFLAGS";
  std::string error = failed.empty() ? "" : failed + " " + name + ": " + std::strerror(errno);
  ::close(fd);
  return error;
}

// isobench.ip=<address>/<prefix>: the guest's eth0 on the host's bridge (virtio-net,
// whose driver the modules above loaded). The device is probed as its driver loads,
// but give it a moment.
void ConfigureVmNetwork() {
  std::string error = ConfigureInterface("lo", "");
  if (!error.empty()) Console("lo: " + error);
  std::string cidr = KernelCmdlineValue("isobench.ip");
  if (cidr.empty()) return;
  for (int i = 0; i < 200 && ::access("/sys/class/net/eth0", F_OK) != 0; ++i) ::usleep(10000);
  error = ConfigureInterface("eth0", cidr);
  if (!error.empty()) Console("eth0: " + error);
}

int OpenChannelPath(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr = {};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return fd;
    if (fd >= 0) ::close(fd);
    return -1;
  }
  int fd = ::open(path.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) return -1;
  struct termios tio;
  if (::tcgetattr(fd, &tio) == 0) {
    // Raw: no echo, no CR/LF translation, no line editing: the channel carries JSON.
    ::cfmakeraw(&tio);
    ::cfsetspeed(&tio, B115200);
    ::tcsetattr(fd, TCSANOW, &tio);
  }
  return fd;
}

bool WriteLine(int fd, const nlohmann::json& message) {
  std::string line = message.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  std::string_view rest = line;
  while (!rest.empty()) {
    ssize_t n = ::write(fd, rest.data(), rest.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        struct pollfd pfd = {fd, POLLOUT, 0};
        ::poll(&pfd, 1, 1000);
        continue;
      }
      return false;
    }
    rest.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

double UptimeSeconds() { return std::atof(ReadSmallFile("/proc/uptime").c_str()); }

[[noreturn]] void Shutdown(bool vm_mode) {
  if (vm_mode) {
    ::kill(-1, SIGKILL);
    ::sync();
    // A kernel without ACPI (the minimal guest kernel) cannot power the machine off:
    // RB_POWER_OFF would halt the CPUs and leave qemu running until the host's timeout.
    // Rebooting ends the VM just as well, since the host runs it with
    // <on_reboot>destroy</on_reboot> (qemu -no-reboot), and reboot=t makes it immediate.
    bool has_acpi = ::access("/sys/firmware/acpi", F_OK) == 0;
    ::reboot(has_acpi ? RB_POWER_OFF : RB_AUTOBOOT);
  }
  _exit(0);
}

struct Options {
  int channel_fd = -1;
  std::string channel_path;
};

Options ParseArgs(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--channel-fd" && i + 1 < argc)
      options.channel_fd = std::atoi(argv[++i]);
    else if (arg == "--channel-path" && i + 1 < argc)
      options.channel_path = argv[++i];
  }
  return options;
}

}  // namespace

std::map<pid_t, int>& ExitedChildren() {
  static std::map<pid_t, int> exited;
  return exited;
}

void ReapChildren() {
  // Drain the signalfd first so the next SIGCHLD wakes poll again.
  struct signalfd_siginfo info;
  while (g_child_signal_fd >= 0 && ::read(g_child_signal_fd, &info, sizeof info) > 0) {
  }
  for (;;) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) break;
    ExitedChildren()[pid] = status;
  }
  // Orphans adopted by PID 1 are never asked for: keep the table small.
  if (ExitedChildren().size() > 4096) ExitedChildren().clear();
}

int ChildSignalFd() { return g_child_signal_fd; }

std::string ReadSmallFile(const std::string& path, size_t limit) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  std::string out;
  char buf[4096];
  while (out.size() < limit) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

}  // namespace isobench::agent

int main(int argc, char** argv) {
  using namespace isobench::agent;
  Options options = ParseArgs(argc, argv);
  bool vm_mode = options.channel_fd < 0 && options.channel_path.empty() && ::getpid() == 1;
  if (vm_mode) {
    PrepareVmUserland();
    options.channel_path = KernelCmdlineValue("isobench.channel");
    // A container's runtime sets its UTS name; in a VM the host passes it on the command line.
    std::string hostname = KernelCmdlineValue("isobench.hostname");
    if (!hostname.empty() && ::sethostname(hostname.data(), hostname.size()) != 0)
      Console("sethostname " + hostname + ": " + std::strerror(errno));
    ConfigureVmNetwork();
    if (options.channel_path.empty()) options.channel_path = "/dev/ttyS1";
  }

  int channel = options.channel_fd;
  if (channel < 0 && !options.channel_path.empty()) channel = OpenChannelPath(options.channel_path);
  if (channel < 0 || ::fcntl(channel, F_GETFD) < 0) {
    Console("no control channel (--channel-fd N, --channel-path P, or isobench.channel=)");
    if (vm_mode) Shutdown(true);
    return 2;
  }
  // The channel must not leak into workloads (probe 44 checks for inherited fds).
  ::fcntl(channel, F_SETFD, FD_CLOEXEC);

  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  ::sigprocmask(SIG_BLOCK, &mask, nullptr);
  g_child_signal_fd = ::signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  // SIGPIPE would kill PID 1 when the host closes the channel mid-reply.
  ::signal(SIGPIPE, SIG_IGN);

  std::string mode = vm_mode ? "vm" : "container";
  if (!WriteLine(channel, {{"event", "ready"},
                           {"agent_version", 1},
                           {"pid", ::getpid()},
                           {"mode", mode},
                           {"uptime_s", UptimeSeconds()}})) {
    if (vm_mode) Shutdown(true);
    return 3;
  }

  const OpHandlers handlers{
      .exec = HandleExec,
      .info = [&](const nlohmann::json& request) { return HandleInfo(request, mode); },
      .bench = HandleBench,
      .probe = [&](const nlohmann::json& request) { return HandleProbe(request, mode); },
      .listen = HandleListen,
  };
  RequestFramer framer;
  auto reply = [channel](const nlohmann::json& message) { WriteLine(channel, message); };
  for (;;) {
    struct pollfd fds[2] = {{channel, POLLIN, 0}, {g_child_signal_fd, POLLIN, 0}};
    int r = ::poll(fds, 2, -1);
    if (r < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[1].revents & POLLIN) ReapChildren();
    if (!(fds[0].revents & (POLLIN | POLLHUP | POLLERR))) continue;
    char chunk[65536];
    ssize_t n = ::read(channel, chunk, sizeof chunk);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) {
      // The host went away: a container's init exits (the pid namespace with it); a VM
      // keeps serving in case the host reconnects to the serial socket.
      if (!vm_mode) break;
      ::poll(nullptr, 0, 200);
      continue;
    }
    if (framer.Feed(std::string_view(chunk, static_cast<size_t>(n)), handlers, reply)) break;
  }
  Shutdown(vm_mode);
}
