#include "harness/cli/paths.h"

#include <unistd.h>

namespace isobench::harness {

std::string SelfDir() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  std::string path(buf, static_cast<size_t>(n));
  return path.substr(0, path.rfind('/'));
}

std::string BinaryDir() { return SelfDir() + "/../.."; }

std::string SourceDir() {
#ifdef ISOBENCH_SOURCE_DIR
  return ISOBENCH_SOURCE_DIR;
#else
  return BinaryDir() + "/..";
#endif
}

}  // namespace isobench::harness
