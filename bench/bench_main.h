// Shared start-up for isobench's Google Benchmark programs: isobench flags are taken
// out of argv before benchmark::Initialize sees it, a Session is opened, and the
// environment goes into the JSON "context" so every result says what produced it.
//
//   int main(int argc, char** argv) {
//     return isobench::bench::Main(argc, argv, [](BenchSession& s) { Register(s); });
//   }
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "harness/backend.h"
#include "harness/session.h"

namespace isobench::bench {

struct BenchFlags {
  std::string backends = "all";
  std::string workdir = "/var/lib/isobench";
  std::string kernel;
  std::string vm_uri;
  std::string vm_accel;
  bool quick = false;
  int repetitions = 0;     // 0: the suite's default
  int vm_repetitions = 0;  // 0: the suite's default
};

struct BenchSession {
  BenchFlags flags;
  harness::Session session;
  harness::BackendContext context;  // for reference rows (host) built outside the registry
};

// Removes --backends=, --workdir=, --kernel=, --vm-uri=, --vm-accel=, --quick,
// --repetitions=, --vm-repetitions= from argv.
BenchFlags ParseBenchFlags(int* argc, char** argv);

int Main(int argc, char** argv, const std::function<void(BenchSession&)>& register_benchmarks);

// True for backends whose instances take seconds to start (VMs under TCG).
bool IsSlowBackend(const std::string& name);

}  // namespace isobench::bench
