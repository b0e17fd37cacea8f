// Isolation probes inside the agent: the shared vocabulary of agent_probe_*.cc.
//
// A probe looks at the instance from inside and says whether one promise of
// PROBES.md holds. It never decides what is expected: every value that depends on the
// profile (hostname, id maps, rlimits, limits, capability sets) arrives in the request.
//
//   Outcome ProbePid1(const nlohmann::json& params) {
//     if (::getpid() != 1) return Fail("getpid() = " + std::to_string(::getpid()));
//     return Pass("init is pid 1");
//   }
//   // registered in one of the per-feature tables:
//   {"pid1", 2, Scope::kInstance, ProbePid1},
//
// Probes that try something dangerous (mount, unshare, setns, fork bombs) do it in a
// forked child (RunInChild), so the agent's own namespaces, credentials and mounts are
// the same after the probe as before, and a probe that crashes cannot take PID 1 along.
// Every attempt is chosen so that it is harmless even where it succeeds (an open for
// writing that never writes, a write of the value already there, an invalid argument
// that fails after the permission check): the host backend runs these probes on the
// bare host.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "harness/procfs.h"

namespace isobench::agent {

using json = nlohmann::json;

// kError: the probe could not decide (its child timed out or crashed, a fork failed,
// an errno it does not know what to make of). Never a pass, never a fail.
enum class Verdict { kPass, kFail, kSkip, kError };
const char* VerdictName(Verdict verdict);

struct Outcome {
  Verdict verdict = Verdict::kSkip;
  std::string detail;
  json observed = json::object();
};
Outcome Pass(std::string detail, json observed = json::object());
Outcome Fail(std::string detail, json observed = json::object());
Outcome Skip(std::string detail, json observed = json::object());
Outcome Undecided(std::string detail, json observed = json::object());

// What a failing probe exposes. In a VM the agent runs on the guest's own kernel, so a
// probe whose subject is "the kernel the instance runs on" (its capabilities, seccomp,
// /proc/sys, devices, limits) only exposes the guest. The agent reports the verdict as
// observed, with the scope; the suite grades it (a kernel-scope fail in a VM is moot
// behind the hypervisor: a skip with that reason; an error stays an error).
enum class Scope {
  kInstance,  // the instance's own view (pid 1, hostname, ...): judged as is everywhere
  kKernel,    // the kernel under the instance: a fail inside a VM only exposes the guest
};

struct ProbeDef {
  const char* name;
  int number;  // in PROBES.md
  Scope scope;
  Outcome (*run)(const json& params);
};

// The per-feature tables (agent_probe_<feature>.cc).
void AddNamespaceProbes(std::vector<ProbeDef>* probes);
void AddFilesystemProbes(std::vector<ProbeDef>* probes);  // 13-20: root and /proc
void AddCgroupfsProbes(std::vector<ProbeDef>* probes);    // 21-23: cgroupfs, release_agent
void AddHostPathProbes(std::vector<ProbeDef>* probes);    // 24-26: what of the host is mounted in
void AddDeviceProbes(std::vector<ProbeDef>* probes);
void AddPrivilegeProbes(std::vector<ProbeDef>* probes);
void AddResourceProbes(std::vector<ProbeDef>* probes);
void AddNetworkProbes(std::vector<ProbeDef>* probes);

// --- helpers shared by the probes ---------------------------------------------------

// "EPERM (Operation not permitted)"; "ok" for 0.
std::string ErrnoText(int err);
// "EPERM"; "0" for 0.
std::string ErrnoName(int err);

// A forked child that runs `body` and hands back the JSON it returns. The child starts
// with every signal unblocked and in its own process group (killed as a group on
// timeout). An exception in the body becomes {"error": what}.
struct ChildResult {
  bool completed = false;  // the child sent a result
  int wait_status = 0;     // as from waitpid
  bool timed_out = false;
  json value = json::object();
  std::string Describe() const;  // "exited 0", "killed by SIGKILL", "timed out"
};
ChildResult RunInChild(const std::function<json()>& body, int timeout_ms = 10000);
// The outcome of a RunInChild child that sent no result: a timeout or a crash is the
// probe breaking, an error; `what` names the child ("the umount child").
Outcome ChildBroke(const std::string& what, const ChildResult& r, json observed);

using harness::MountEntry;
using harness::ProcStat;
// /proc/self/mountinfo through harness/procfs.h; a table it cannot read throws, which
// makes the probe an error (never a pass over an empty table).
std::vector<MountEntry> MountTable();
// /proc/<pid>/stat of each process in /proc (those that exit meanwhile are left out).
std::map<pid_t, ProcStat> ProcessTable();
// Numeric entries of /proc; throws when /proc cannot be listed.
std::vector<pid_t> ListPids();

// "Key:\tvalue" lines of a /proc status file, value trimmed.
std::string StatusField(const std::string& status_text, std::string_view key);
// The entries of a directory (without . and ..); empty if it cannot be opened.
std::vector<std::string> ListDirectory(const std::string& path, int* error = nullptr);
std::string Trim(std::string text);
// "a, b, c"
std::string JoinList(const std::vector<std::string>& items);
std::vector<std::string> SplitLines(const std::string& text);

// A fresh directory for a probe to work in: under the first of /dev/shm, /tmp, /run, /
// that accepts mkdir. Empty if none does (a read-only instance without tmpfs).
std::string MakeScratchDir(const std::string& tag);
// A directory that exists and can carry a mount: a fresh scratch directory when the
// instance has somewhere writable (*created: remove it after), /tmp or /mnt otherwise
// (for a private mount namespace only).
std::string MountPointFor(const std::string& tag, bool* created);

// In a child about to mount things: a private copy of the mount namespace, so nothing
// it mounts can reach the instance's namespace (or, without a mount namespace, the
// host's). Returns 0 or the errno of unshare(CLONE_NEWNS) / the MS_PRIVATE remount.
int EnterPrivateMountNamespace();

// Writes "0 <euid> 1" / "0 <egid> 1" maps after unshare(CLONE_NEWUSER), the maps an
// unprivileged process may write for itself (user_namespaces(7)). 0 or an errno.
int MapSelfAsRoot(uid_t outer_uid, gid_t outer_gid);
// In a child: root of a new user namespace (unshare(CLONE_NEWUSER), MapSelfAsRoot()),
// then unshare(`flags`) with every mount made private (when `flags` has CLONE_NEWNS
// nothing mounted afterwards propagates). Records "unshare_user" and `key` (errno names,
// "0" on success) and "map" in `out`; false when an unshare failed.
bool EnterNamespacesAsRoot(uid_t outer_uid, gid_t outer_gid, int flags, const char* key, json* out);
// When EnterNamespacesAsRoot() failed in a probe's child (its `observed`): the refusal is
// the protection holding, a pass that names the unshare refused ("mnt|pid" for `what`).
// nullopt when both unshares worked.
std::optional<Outcome> NamespacesRefused(const json& observed, const char* key, const char* what);

// Agent state the probes may inspect (set by agent_probes.cc from the process).
int ChannelFdFromCommandLine();  // --channel-fd N, or -1

}  // namespace isobench::agent
