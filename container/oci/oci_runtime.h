// The command line of an OCI runtime (runc, crun, youki, runsc): the verbs of the
// runtime-spec's lifecycle plus `spec` and `list`, every call with our own state root
// so isobench's containers never mix with a host's docker or podman ones.
//
//   ISO_ASSIGN_OR_RETURN(Runtime runc, Runtime::Locate("runc", "/run/isobench-oci/runc"));
//   ISO_ASSIGN_OR_RETURN(nlohmann::json spec, runc.DefaultSpec(scratch_dir));
//   ISO_RETURN_IF_ERROR(runc.Delete("isobench-<run>-<name>"));
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "harness/error.h"

namespace isobench::container::oci {

class Runtime {
 public:
  Runtime() = default;
  // `name_or_path`: an absolute path, or a name looked up in PATH (and /usr/sbin, /sbin,
  // where Debian puts runc). Errors say the runtime is not installed.
  static harness::Result<Runtime> Locate(const std::string& name_or_path, std::string state_root);

  const std::string& path() const { return path_; }
  const std::string& state_root() const { return state_root_; }

  // argv for `<runtime> --root <state> <args...>`.
  std::vector<std::string> Command(const std::vector<std::string>& args) const;

  // First line of `--version`.
  harness::Result<std::string> Version() const;
  // The runtime's own default config.json (`spec`), generated in `scratch_dir`.
  harness::Result<nlohmann::json> DefaultSpec(const std::string& scratch_dir) const;
  harness::Result<void> Start(const std::string& id) const;
  // `delete --force`: kills what is left and removes the runtime's state and cgroup.
  // An unknown id is success.
  harness::Result<void> Delete(const std::string& id) const;
  // `list --format json`: [{"id":..., "pid":..., "status":..., "annotations":{...}}].
  harness::Result<nlohmann::json> List() const;

 private:
  std::string path_;
  std::string state_root_;
};

}  // namespace isobench::container::oci
