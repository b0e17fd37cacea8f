// Host-side readings of /proc used to attribute memory and CPU to an instance
// (DESIGN.md: memory per instance = PSS of everything that exists because of it).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "harness/error.h"

namespace isobench::harness {

// Pss of a process from /proc/<pid>/smaps_rollup, in bytes.
Result<uint64_t> ProcessPssBytes(pid_t pid);
// Rss from the same file, in bytes.
Result<uint64_t> ProcessRssBytes(pid_t pid);
// utime + stime of a process (and its reaped children with `with_children`), seconds.
Result<double> ProcessCpuSeconds(pid_t pid, bool with_children = false);
// The fields of /proc/<pid>/stat after the command, which may hold spaces and
// parentheses: [0] is field 3 (the state), [19] field 22 (the start time). Empty when
// the process is gone.
std::vector<std::string> ProcessStatFields(pid_t pid);
// MemAvailable from /proc/meminfo, in bytes.
Result<uint64_t> MemAvailableBytes();

}  // namespace isobench::harness
