// isobench_bench: the benchmark suite (startup, density, overhead, I/O, network,
// performance isolation, image distribution), one Google
// Benchmark JSON file per run. Usually started by `isobench run`.
#include "bench/families.h"

int main(int argc, char** argv) {
  return isobench::bench::Main(argc, argv, [](isobench::bench::BenchSession& bench) {
    isobench::bench::RegisterStartup(bench);
    isobench::bench::RegisterDensity(bench);
    isobench::bench::RegisterOverhead(bench);
    isobench::bench::RegisterIo(bench);
    isobench::bench::RegisterNet(bench);
    isobench::bench::RegisterIsolation(bench);
    isobench::bench::RegisterImage(bench);
  });
}
