// Internals of isobench-agent, the PID 1 of every instance (see protocol.md).
#pragma once

#include <sys/types.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>

namespace isobench::agent {

// Children that exited, by pid, filled by the reaper (PID 1 adopts orphans too).
std::map<pid_t, int>& ExitedChildren();
// Reaps every exited child without blocking; records statuses in ExitedChildren().
void ReapChildren();
// The signalfd that becomes readable on SIGCHLD (SIGCHLD is blocked in the agent).
int ChildSignalFd();

// op handlers; each returns the reply body (without id/ok) or throws std::exception
// whose message becomes the error reply.
nlohmann::json HandleExec(const nlohmann::json& request);
nlohmann::json HandleInfo(const nlohmann::json& request, const std::string& mode);
// The `bench` op: syscall round trip, page faults, memory bandwidth (agent_bench.cc).
nlohmann::json HandleBench(const nlohmann::json& request);
// The `probe` op: runs one isolation probe by name (agent_probes.cc, PROBES.md).
nlohmann::json HandleProbe(const nlohmann::json& request, const std::string& mode);
// The `listen` op: a TCP listener on every address, kept open (agent_probe_network.cc).
nlohmann::json HandleListen(const nlohmann::json& request);

// Reads a small file; empty string on error.
std::string ReadSmallFile(const std::string& path, size_t limit = 1 << 20);

}  // namespace isobench::agent
