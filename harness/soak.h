// Soak: create and destroy instances of one backend many times and prove the host is
// left exactly as before (mounts, cgroups, netns, links, processes, qemu processes,
// the harness's fds, files under the work directory) and that the harness's own RSS
// stays within a stated bound.
//
//   SoakOptions options{.cycles = 1000};
//   ISO_ASSIGN_OR_RETURN(SoakReport report, RunSoak(backend, workdir, options));
//   if (!report.leaks.empty() || report.rss_growth_bytes > options.rss_bound_bytes) ...
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "harness/backend.h"

namespace isobench::harness {

struct SoakOptions {
  int cycles = 1000;
  int warmup_cycles = 5;        // before the first snapshot: lazy initialisation is not a leak
  bool exec_each_cycle = true;  // run /bin/true through the agent in every instance
  uint64_t rss_bound_bytes = 4u << 20;
  std::function<void(int done, int total)> progress;  // optional
};

struct SoakReport {
  int cycles_done = 0;
  int failures = 0;
  std::string first_failure;
  std::vector<std::string> leaks;  // DiffHostState lines; empty when clean
  int64_t rss_start_bytes = 0;
  int64_t rss_end_bytes = 0;
  int64_t rss_growth_bytes = 0;
  double seconds = 0;
  bool interrupted = false;
};

Result<SoakReport> RunSoak(Backend& backend, const std::string& workdir,
                           const SoakOptions& options);

// VmRSS of this process, bytes.
int64_t SelfRssBytes();

}  // namespace isobench::harness
