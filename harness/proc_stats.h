// Host-side readings of /proc used to attribute memory and CPU to an instance
// (DESIGN.md: memory per instance = PSS of everything that exists because of it).
#pragma once

#include <sys/types.h>

#include <cstdint>

#include "harness/error.h"

namespace isobench::harness {

// Pss of a process from /proc/<pid>/smaps_rollup, in bytes.
Result<uint64_t> ProcessPssBytes(pid_t pid);
// Rss from the same file, in bytes.
Result<uint64_t> ProcessRssBytes(pid_t pid);
// utime + stime of a process (and its reaped children with `with_children`), seconds.
Result<double> ProcessCpuSeconds(pid_t pid, bool with_children = false);
// MemAvailable from /proc/meminfo, in bytes.
Result<uint64_t> MemAvailableBytes();

}  // namespace isobench::harness
