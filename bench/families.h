// The benchmark families of the suite. Each registers its benchmarks for every row of
// the session (backends under test and reference rows), named Family/backend/params.
#pragma once

#include "bench/bench_main.h"

namespace isobench::bench {

void RegisterStartup(BenchSession& bench);    // startup.cc
void RegisterDensity(BenchSession& bench);    // density.cc
void RegisterOverhead(BenchSession& bench);   // overhead.cc
void RegisterIo(BenchSession& bench);         // io.cc
void RegisterNet(BenchSession& bench);        // net.cc
void RegisterIsolation(BenchSession& bench);  // isolation.cc
void RegisterImage(BenchSession& bench);      // image.cc

}  // namespace isobench::bench
