// Where the running isobench's build and source trees are, from its own executable:
// <build>/harness/cli/isobench, with the source tree above the build directory.
//
//   std::string bench = BinaryDir() + "/bench/isobench_bench";
//   std::string suites = SourceDir() + "/bench/suites";
#pragma once

#include <string>

namespace isobench::harness {

// The directory of /proc/self/exe ("." when it cannot be read).
std::string SelfDir();
// The build tree: two levels above the executable.
std::string BinaryDir();
// The source tree: ISOBENCH_SOURCE_DIR when compiled in, else the build tree's parent.
std::string SourceDir();

}  // namespace isobench::harness
