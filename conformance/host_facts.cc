#include "conformance/host_facts.h"

#include <fcntl.h>
#include <mqueue.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>

#include "harness/log.h"
#include "harness/procfs.h"

namespace isobench::conformance {

using harness::Error;
using harness::Result;

namespace {

std::vector<std::string> Lines(const std::string& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

std::string FirstLine(const std::string& path) {
  auto lines = Lines(path);
  return lines.empty() ? "" : lines[0];
}

}  // namespace

std::map<std::string, uint64_t> NamespaceInodes(const std::string& pid) {
  std::map<std::string, uint64_t> out;
  for (const char* kind : {"cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"}) {
    struct stat st;
    if (::stat(("/proc/" + pid + "/ns/" + kind).c_str(), &st) == 0) out[kind] = st.st_ino;
  }
  return out;
}

Result<std::unique_ptr<HostFacts>> HostFacts::Create() {
  std::unique_ptr<HostFacts> h(new HostFacts());
  h->limits_ = ReadHostLimits();
  h->namespaces_ = NamespaceInodes("self");
  struct stat root;
  if (::stat("/", &root) == 0) h->root_id_ = {root.st_dev, root.st_ino};

  // A token no other process carries: GNU sleep takes a fractional duration.
  h->sentinel_token_ = "86400." + std::to_string(1000000 + ::getpid() % 1000000).substr(1);
  auto sentinel = harness::ChildProcess::Spawn({"/bin/sleep", h->sentinel_token_});
  if (!sentinel.ok()) return std::move(sentinel).error().Context("sentinel process");
  h->sentinel_ = std::move(*sentinel);

  ISO_RETURN_IF_ERROR(h->CreateIpcObjects());

  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Error::Errno("socket", "AF_INET");
  h->listener_ = harness::Fd(fd);
  struct sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 16) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    return Error::Errno("listen", "127.0.0.1:0");
  h->loopback_port_ = ntohs(addr.sin_port);
  // A service on every address, as sshd or a DNS cache would be: on a shared network it
  // answers at the instances' gateway unless the network is guarded (PROBES.md 46).
  int any = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (any < 0) return Error::Errno("socket", "AF_INET");
  h->any_listener_ = harness::Fd(any);
  addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  len = sizeof addr;
  if (::bind(any, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(any, 16) != 0 ||
      ::getsockname(any, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    return Error::Errno("listen", "0.0.0.0:0");
  h->any_port_ = ntohs(addr.sin_port);

  // The filesystem that holds each host directory (the mount with the longest mount
  // point that prefixes it, the last one mounted there), and the directory's path
  // inside that filesystem.
  auto read = harness::ReadMountInfo();
  if (!read.ok()) ISO_LOG(kWarning) << "host facts: " << read.error().message();
  std::vector<harness::MountEntry> mounts = read.ok() ? *read : std::vector<harness::MountEntry>();
  for (const char* path : {"/", "/boot", "/etc", "/lib", "/usr", "/proc", "/sys", "/dev"}) {
    std::string p = path;
    const harness::MountEntry* best = nullptr;
    for (const auto& m : mounts) {
      bool prefix = m.target == "/" || p == m.target || p.rfind(m.target + "/", 0) == 0;
      if (prefix && (!best || m.target.size() >= best->target.size())) best = &m;
    }
    if (!best) continue;
    std::string rest = best->target == "/" ? p : p.substr(best->target.size());
    std::string fs_path =
        best->root == "/" ? (rest.empty() ? "/" : rest) : best->root + (rest == "/" ? "" : rest);
    h->host_directories_.push_back({p, best->dev, fs_path});
  }

  // Listening unix sockets: the 00010000 flag is __SO_ACCEPTCON.
  for (const auto& line : Lines("/proc/net/unix")) {
    std::istringstream in(line);
    std::string num, refcount, protocol, flags, type, state, inode, path;
    in >> num >> refcount >> protocol >> flags >> type >> state >> inode >> path;
    if (path.empty() || flags.size() < 5) continue;
    unsigned long f = std::strtoul(flags.c_str(), nullptr, 16);
    if (!(f & 0x10000)) continue;
    if (path[0] == '@') {
      if (h->abstract_sockets_.size() < 64) h->abstract_sockets_.push_back(path.substr(1));
    } else if (h->socket_paths_.size() < 64) {
      h->socket_paths_.push_back(path);
    }
  }

  if (auto blocks = harness::ListDir("/sys/block"); blocks.ok()) {
    for (const std::string& name : *blocks) {
      if (name.rfind("loop", 0) == 0 || name.rfind("ram", 0) == 0 || name.rfind("zram", 0) == 0)
        continue;
      unsigned major = 0, minor = 0;
      if (std::sscanf(FirstLine("/sys/block/" + name + "/dev").c_str(), "%u:%u", &major, &minor) ==
          2)
        h->disks_.push_back({name, major, minor});
    }
  }
  std::sort(h->disks_.begin(), h->disks_.end(),
            [](const DeviceNumber& a, const DeviceNumber& b) { return a.name < b.name; });
  if (h->disks_.empty()) h->disks_.push_back({"sda", 8, 0});
  return h;
}

Result<void> HostFacts::CreateIpcObjects() {
  // Keys from the pid, stepping past any that exist; each object is created exclusive,
  // so what the probe looks for is ours alone.
  key_t base = static_cast<key_t>(0x1b0b0000 | ((::getpid() & 0xfff) << 4));
  for (int i = 0; i < 16 && shm_id_ < 0; ++i) {
    shm_id_ = ::shmget(base + i, 4096, IPC_CREAT | IPC_EXCL | 0600);
    if (shm_id_ >= 0) shm_key_ = base + i;
  }
  for (int i = 0; i < 16 && sem_id_ < 0; ++i) {
    sem_id_ = ::semget(base + 0x100 + i, 1, IPC_CREAT | IPC_EXCL | 0600);
    if (sem_id_ >= 0) sem_key_ = base + 0x100 + i;
  }
  for (int i = 0; i < 16 && msg_id_ < 0; ++i) {
    msg_id_ = ::msgget(base + 0x200 + i, IPC_CREAT | IPC_EXCL | 0600);
    if (msg_id_ >= 0) msg_key_ = base + 0x200 + i;
  }
  if (shm_id_ < 0 || sem_id_ < 0 || msg_id_ < 0) return Error::Errno("create SysV IPC sentinels");
  mq_name_ = "/isobench-probe-" + std::to_string(::getpid());
  mqd_t q = ::mq_open(mq_name_.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600, nullptr);
  if (q == static_cast<mqd_t>(-1)) {
    // A kernel without POSIX message queues: the probe then checks SysV objects only.
    ISO_LOG(kWarning) << "mq_open " << mq_name_ << ": " << std::strerror(errno);
    mq_name_.clear();
  } else {
    ::mq_close(q);
    mq_created_ = true;
  }
  return {};
}

HostFacts::~HostFacts() {
  if (shm_id_ >= 0) ::shmctl(shm_id_, IPC_RMID, nullptr);
  if (sem_id_ >= 0) ::semctl(sem_id_, 0, IPC_RMID);
  if (msg_id_ >= 0) ::msgctl(msg_id_, IPC_RMID, nullptr);
  if (mq_created_) ::mq_unlink(mq_name_.c_str());
  sentinel_.Kill();
}

bool HostFacts::SentinelAlive() {
  if (!sentinel_.running()) return false;
  auto status = sentinel_.WaitFor(std::chrono::milliseconds(0));
  return status.ok() && !status->has_value();
}

std::string HostFacts::hostname() const {
  char name[256] = {};
  ::gethostname(name, sizeof name - 1);
  return name;
}

Result<bool> HostFacts::MountVisible(const std::string& token) {
  ISO_ASSIGN_OR_RETURN(std::vector<harness::MountEntry> mounts, harness::ReadMountInfo());
  for (const auto& m : mounts)
    for (const std::string* field : {&m.target, &m.source, &m.root})
      if (field->find(token) != std::string::npos) return true;
  return false;
}

}  // namespace isobench::conformance
