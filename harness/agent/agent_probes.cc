// The `probe` op: isolation probes run from inside the instance (PROBES.md).
//
// Request:  {"op":"probe", "name":"<probe>", "params":{...}}
// Reply:    {"verdict":"pass"|"fail"|"skip", "detail":"...", "observed":{...},
//            "probe":"<name>", "number":N, "elapsed_ms":T}
//
// The probe catalogue (name -> number in PROBES.md) is the union of the per-feature
// tables in agent_probe_*.cc; {"op":"probe","name":"list"} returns it.
#include "harness/agent/agent_probes.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sstream>
#include <stdexcept>

#include "harness/agent/agent.h"
#include "harness/fd.h"

namespace isobench::agent {
namespace {

int64_t NowMs() {
  struct timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const std::vector<ProbeDef>& Catalogue() {
  static const std::vector<ProbeDef> probes = [] {
    std::vector<ProbeDef> all;
    AddNamespaceProbes(&all);
    AddFilesystemProbes(&all);
    AddCgroupfsProbes(&all);
    AddHostPathProbes(&all);
    AddDeviceProbes(&all);
    AddPrivilegeProbes(&all);
    AddResourceProbes(&all);
    AddNetworkProbes(&all);
    std::sort(all.begin(), all.end(),
              [](const ProbeDef& a, const ProbeDef& b) { return a.number < b.number; });
    return all;
  }();
  return probes;
}

// Decodes the octal escapes mountinfo uses for space, tab, newline and backslash.
}  // namespace

const char* VerdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::kPass:
      return "pass";
    case Verdict::kFail:
      return "fail";
    case Verdict::kSkip:
      return "skip";
    case Verdict::kError:
      return "error";
  }
  return "error";
}

Outcome Pass(std::string detail, json observed) {
  return {Verdict::kPass, std::move(detail), std::move(observed)};
}
Outcome Fail(std::string detail, json observed) {
  return {Verdict::kFail, std::move(detail), std::move(observed)};
}
Outcome Skip(std::string detail, json observed) {
  return {Verdict::kSkip, std::move(detail), std::move(observed)};
}
Outcome Undecided(std::string detail, json observed) {
  return {Verdict::kError, std::move(detail), std::move(observed)};
}
Outcome ChildBroke(const std::string& what, const ChildResult& r, json observed) {
  observed["child"] = r.Describe();
  return Undecided(what + " " + r.Describe() + " before it could report", std::move(observed));
}

std::string ErrnoName(int err) {
  if (err == 0) return "0";
  const char* name = ::strerrorname_np(err);
  return name ? name : std::to_string(err);
}

std::string ErrnoText(int err) {
  if (err == 0) return "ok";
  return ErrnoName(err) + " (" + std::strerror(err) + ")";
}

std::string ChildResult::Describe() const {
  if (timed_out) return "timed out";
  if (WIFEXITED(wait_status)) return "exited " + std::to_string(WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status)) {
    const char* name = ::sigabbrev_np(WTERMSIG(wait_status));
    return std::string("killed by SIG") + (name ? name : std::to_string(WTERMSIG(wait_status)));
  }
  return "status " + std::to_string(wait_status);
}

ChildResult RunInChild(const std::function<json()>& body, int timeout_ms) {
  ChildResult result;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    throw std::runtime_error(std::string("pipe2: ") + std::strerror(errno));
  pid_t pid = ::fork();
  if (pid < 0) {
    int e = errno;
    ::close(fds[0]);
    ::close(fds[1]);
    throw std::runtime_error(std::string("fork: ") + std::strerror(e));
  }
  if (pid == 0) {
    ::close(fds[0]);
    ::setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    std::string text;
    try {
      text = body().dump(-1, ' ', false, json::error_handler_t::replace);
    } catch (const std::exception& e) {
      text = json{{"error", e.what()}}.dump(-1, ' ', false, json::error_handler_t::replace);
    }
    std::string_view rest = text;
    while (!rest.empty()) {
      ssize_t n = ::write(fds[1], rest.data(), rest.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      rest.remove_prefix(static_cast<size_t>(n));
    }
    _exit(0);
  }
  ::close(fds[1]);
  std::string text;
  int64_t deadline = NowMs() + timeout_ms;
  for (;;) {
    int64_t left = deadline - NowMs();
    if (left <= 0) {
      result.timed_out = true;
      break;
    }
    struct pollfd pfd = {fds[0], POLLIN, 0};
    int r = ::poll(&pfd, 1, static_cast<int>(std::min<int64_t>(left, 1000)));
    if (r < 0 && errno != EINTR) break;
    if (r <= 0) continue;
    char buf[65536];
    ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EOF: the child is done (or died)
    text.append(buf, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  if (result.timed_out) {
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
  }
  // The agent's main loop never runs during a probe, so this child's status is still
  // ours to collect (ReapChildren only runs between requests).
  while (::waitpid(pid, &result.wait_status, 0) < 0 && errno == EINTR) {
  }
  ExitedChildren().erase(pid);
  if (!text.empty()) {
    json value = json::parse(text, nullptr, false);
    if (!value.is_discarded() && value.is_object()) {
      result.value = std::move(value);
      result.completed = true;
    }
  }
  return result;
}

std::vector<MountEntry> MountTable() { return harness::ReadMountInfo().ValueOrThrow(); }

std::map<pid_t, ProcStat> ProcessTable() {
  std::map<pid_t, ProcStat> table;
  for (pid_t pid : ListPids())
    if (auto stat = harness::ReadProcStat(pid); stat.ok()) table[pid] = std::move(stat).value();
  return table;
}

std::vector<pid_t> ListPids() { return harness::ListPids().ValueOrThrow(); }

std::string JoinList(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out;
}

std::string Trim(std::string text) {
  size_t b = text.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  size_t e = text.find_last_not_of(" \t\r\n");
  return text.substr(b, e - b + 1);
}

std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) lines.push_back(line);
  return lines;
}

std::string StatusField(const std::string& status_text, std::string_view key) {
  for (const auto& line : SplitLines(status_text)) {
    size_t colon = line.find(':');
    if (colon == std::string::npos || std::string_view(line).substr(0, colon) != key) continue;
    return Trim(line.substr(colon + 1));
  }
  return {};
}

std::vector<std::string> ListDirectory(const std::string& path, int* error) {
  auto names = harness::ListDir(path);
  if (error) *error = names.ok() ? 0 : names.error().errno_value();
  return names.ok() ? std::move(names).value() : std::vector<std::string>();
}

std::string MakeScratchDir(const std::string& tag) {
  std::string leaf = "/.isobench-" + tag + "-" + std::to_string(::getpid()) + "-" +
                     std::to_string(NowMs() % 1000000);
  for (const char* base : {"/dev/shm", "/tmp", "/run", ""}) {
    std::string path = std::string(base) + leaf;
    if (::mkdir(path.c_str(), 0700) == 0) return path;
  }
  return {};
}

std::string MountPointFor(const std::string& tag, bool* created) {
  std::string dir = MakeScratchDir(tag);
  *created = !dir.empty();
  if (!dir.empty()) return dir;
  struct stat st;
  if (::stat("/tmp", &st) == 0 && S_ISDIR(st.st_mode)) return "/tmp";
  return "/mnt";
}

int EnterPrivateMountNamespace() {
  if (::unshare(CLONE_NEWNS) != 0) return errno;
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return errno;
  return 0;
}

int MapSelfAsRoot(uid_t outer_uid, gid_t outer_gid) {
  auto write_file = [](const char* path, const std::string& text) -> int {
    int fd = ::open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return errno;
    ssize_t n = ::write(fd, text.data(), text.size());
    int e = n < 0 ? errno : 0;
    ::close(fd);
    return e;
  };
  // setgroups must be denied before an unprivileged gid_map write (user_namespaces(7)).
  int e = write_file("/proc/self/setgroups", "deny");
  if (e != 0 && e != ENOENT) return e;
  if ((e = write_file("/proc/self/uid_map", "0 " + std::to_string(outer_uid) + " 1\n")) != 0)
    return e;
  return write_file("/proc/self/gid_map", "0 " + std::to_string(outer_gid) + " 1\n");
}

bool EnterNamespacesAsRoot(uid_t outer_uid, gid_t outer_gid, int flags, const char* key,
                           json* out) {
  if (::unshare(CLONE_NEWUSER) != 0) {
    (*out)["unshare_user"] = ErrnoName(errno);
    return false;
  }
  (*out)["unshare_user"] = "0";
  (*out)["map"] = ErrnoName(MapSelfAsRoot(outer_uid, outer_gid));
  if (::unshare(flags) != 0) {
    (*out)[key] = ErrnoName(errno);
    return false;
  }
  (*out)[key] = "0";
  ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr);
  return true;
}

std::optional<Outcome> NamespacesRefused(const json& observed, const char* key, const char* what) {
  if (observed.value("unshare_user", "") != "0")
    return Pass("unshare(CLONE_NEWUSER) refused: " + observed.value("unshare_user", std::string()),
                observed);
  if (observed.value(key, "") != "0")
    return Pass(std::string("unshare(") + what + ") refused: " + observed.value(key, std::string()),
                observed);
  return std::nullopt;
}

int ChannelFdFromCommandLine() {
  std::string cmdline = ReadSmallFile("/proc/self/cmdline");
  std::vector<std::string> args;
  size_t start = 0;
  for (size_t i = 0; i <= cmdline.size(); ++i) {
    if (i == cmdline.size() || cmdline[i] == '\0') {
      if (i > start) args.push_back(cmdline.substr(start, i - start));
      start = i + 1;
    }
  }
  for (size_t i = 0; i + 1 < args.size(); ++i)
    if (args[i] == "--channel-fd") return std::atoi(args[i + 1].c_str());
  return -1;
}

nlohmann::json HandleProbe(const nlohmann::json& request, const std::string& mode) {
  std::string name = request.value("name", std::string());
  if (name == "list") {
    json list = json::array();
    for (const auto& p : Catalogue())
      list.push_back({{"name", p.name},
                      {"number", p.number},
                      {"scope", p.scope == Scope::kKernel ? "kernel" : "instance"}});
    return {{"probes", list}};
  }
  const ProbeDef* def = nullptr;
  for (const auto& p : Catalogue())
    if (name == p.name) def = &p;
  if (!def) throw std::runtime_error("unknown probe `" + name + "` (\"name\":\"list\" lists them)");
  json params = request.contains("params") ? request.at("params") : json::object();
  if (!params.is_object()) throw std::runtime_error("probe params must be an object");
  params["_mode"] = mode;  // "vm" or "container": some probes read host facts differently

  int64_t start = NowMs();
  Outcome outcome;
  try {
    outcome = def->run(params);
  } catch (const json::exception& e) {
    throw std::runtime_error("probe `" + name + "`: bad params: " + e.what());
  } catch (const std::exception& e) {
    // A probe that throws (fork, pipe, a file it cannot read) could not decide.
    outcome = Undecided(std::string("the probe broke: ") + e.what());
  }
  // The verdict as observed: the suite grades it, including what the guest kernel's
  // scope means in a VM (conformance/probes.cc, GradeProbeReply).
  return {{"probe", def->name},
          {"number", def->number},
          {"scope", def->scope == Scope::kKernel ? "kernel" : "instance"},
          {"verdict", VerdictName(outcome.verdict)},
          {"detail", outcome.detail},
          {"observed", outcome.observed},
          {"elapsed_ms", NowMs() - start}};
}

}  // namespace isobench::agent
