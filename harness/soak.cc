#include "harness/soak.h"

#include <malloc.h>

#include <sstream>

#include "harness/fd.h"
#include "harness/host_state.h"
#include "harness/interrupt.h"

namespace isobench::harness {

int64_t SelfRssBytes() {
  auto status = ReadFile("/proc/self/status");
  if (!status.ok()) return -1;
  std::istringstream in(*status);
  std::string key;
  while (in >> key) {
    if (key == "VmRSS:") {
      int64_t kb = 0;
      in >> kb;
      return kb * 1024;
    }
    in.ignore(1 << 12, '\n');
  }
  return -1;
}

namespace {

Result<void> OneCycle(Backend& backend, int i, bool exec) {
  InstanceSpec spec;
  spec.name = "soak-" + std::to_string(i);
  spec.memory_bytes = 128ull << 20;
  ISO_ASSIGN_OR_RETURN(auto instance, backend.Create(spec));
  if (exec) {
    ISO_ASSIGN_OR_RETURN(ExecResult r, instance->Exec({"/bin/true"}, std::chrono::seconds(30)));
    if (r.exit_code != 0)
      return Error("/bin/true exited " + std::to_string(r.exit_code) + " in " + spec.name, EIO);
  }
  return instance->Destroy();
}

}  // namespace

Result<SoakReport> RunSoak(Backend& backend, const std::string& workdir,
                           const SoakOptions& options) {
  SoakReport report;
  for (int i = 0; i < options.warmup_cycles; ++i)
    ISO_RETURN_IF_ERROR(OneCycle(backend, -1 - i, options.exec_each_cycle).Context("soak warm-up"));
  ::malloc_trim(0);
  HostState before = CaptureHostState(workdir);
  report.rss_start_bytes = SelfRssBytes();
  auto start = Clock::now();
  for (int i = 0; i < options.cycles; ++i) {
    if (Interrupted()) {
      report.interrupted = true;
      break;
    }
    auto r = OneCycle(backend, i, options.exec_each_cycle);
    if (!r.ok()) {
      if (report.failures++ == 0) report.first_failure = r.error().message();
    }
    ++report.cycles_done;
    if (options.progress) options.progress(report.cycles_done, options.cycles);
  }
  report.seconds = SecondsBetween(start, Clock::now());
  ::malloc_trim(0);
  report.rss_end_bytes = SelfRssBytes();
  report.rss_growth_bytes = report.rss_end_bytes - report.rss_start_bytes;
  report.leaks = DiffHostState(before, CaptureHostState(workdir));
  return report;
}

}  // namespace isobench::harness
