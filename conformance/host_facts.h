// The host's side of the probes: facts read from the host once per run, and the
// sentinels the probes look for from inside (a process, IPC objects, a TCP listener).
//
//   ISO_ASSIGN_OR_RETURN(std::unique_ptr<HostFacts> host, HostFacts::Create());
//   params["sentinel_pid"] = host->sentinel_pid();
//
// Every sentinel is owned here and removed by the destructor: the IPC objects are
// deleted (IPC_RMID, mq_unlink), the sentinel process killed and reaped.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "conformance/expectations.h"
#include "harness/child_process.h"
#include "harness/error.h"
#include "harness/fd.h"

namespace isobench::conformance {

struct DeviceNumber {
  std::string name;  // "vda"
  unsigned major = 0, minor = 0;
};

class HostFacts {
 public:
  static harness::Result<std::unique_ptr<HostFacts>> Create();
  ~HostFacts();
  HostFacts(const HostFacts&) = delete;
  HostFacts& operator=(const HostFacts&) = delete;

  const HostLimits& limits() const { return limits_; }
  // A `sleep` whose argument is a token no other process carries.
  pid_t sentinel_pid() const { return sentinel_.pid(); }
  const std::string& sentinel_token() const { return sentinel_token_; }
  bool SentinelAlive();

  int shm_key() const { return shm_key_; }
  int sem_key() const { return sem_key_; }
  int msg_key() const { return msg_key_; }
  const std::string& mq_name() const { return mq_name_; }
  int loopback_port() const { return loopback_port_; }
  // A TCP listener of the host on every address (0.0.0.0).
  int any_port() const { return any_port_; }

  std::string hostname() const;  // read fresh each time
  // Namespace inodes of this process, "mnt" -> inode.
  const std::map<std::string, uint64_t>& namespaces() const { return namespaces_; }
  // dev/ino of the host's "/".
  std::pair<uint64_t, uint64_t> root_id() const { return root_id_; }
  // Host directories that must never be mounted in (PROBES.md 26): each with the device
  // ("maj:min") of the filesystem holding it and its path inside that filesystem (what
  // mountinfo's root field shows for a bind of it).
  struct HostDirectory {
    std::string path, dev, fs_path;
  };
  const std::vector<HostDirectory>& host_directories() const { return host_directories_; }
  // Listening unix sockets of the host: paths and abstract names (without '@').
  const std::vector<std::string>& socket_paths() const { return socket_paths_; }
  const std::vector<std::string>& abstract_sockets() const { return abstract_sockets_; }
  // Whole disks of the host (/sys/block, without loop/ram/zram devices).
  const std::vector<DeviceNumber>& disks() const { return disks_; }
  // Whether `token` appears in a mount point, source or root of the host's mount table;
  // an error when the table cannot be read.
  static harness::Result<bool> MountVisible(const std::string& token);

 private:
  HostFacts() = default;
  harness::Result<void> CreateIpcObjects();

  HostLimits limits_;
  harness::ChildProcess sentinel_;
  std::string sentinel_token_;
  int shm_key_ = -1, sem_key_ = -1, msg_key_ = -1;
  int shm_id_ = -1, sem_id_ = -1, msg_id_ = -1;
  std::string mq_name_;
  bool mq_created_ = false;
  harness::Fd listener_;
  int loopback_port_ = 0;
  harness::Fd any_listener_;
  int any_port_ = 0;
  std::map<std::string, uint64_t> namespaces_;
  std::pair<uint64_t, uint64_t> root_id_;
  std::vector<HostDirectory> host_directories_;
  std::vector<std::string> socket_paths_, abstract_sockets_;
  std::vector<DeviceNumber> disks_;
};

// Inodes of /proc/<pid>/ns/*; "self" for this process.
std::map<std::string, uint64_t> NamespaceInodes(const std::string& pid);

}  // namespace isobench::conformance
