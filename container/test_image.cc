#include "container/test_image.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <set>

#include "container/cgroup.h"
#include "harness/fd.h"
#include "harness/procfs.h"

namespace isobench::container::testing {
namespace {

// Builds the image on construction, removes it at exit (static destruction).
struct Owner {
  Owner() {
    if (::geteuid() != 0) {
      image.skip_reason = "needs root (namespaces, overlayfs, cgroups)";
      return;
    }
    harness::ImageOptions options;
    options.agent_binary = harness::DefaultAgentPath();
    options.want_vm = false;
    if (::access(options.busybox.c_str(), X_OK) != 0) {
      image.skip_reason = "busybox-static is not installed (" + options.busybox + ")";
      return;
    }
    if (::access(options.agent_binary.c_str(), X_OK) != 0) {
      image.skip_reason = "agent binary `" + options.agent_binary + "` is not built";
      return;
    }
    char tmpl[] = "/tmp/isobench-container-test-XXXXXX";
    image.workdir = ::mkdtemp(tmpl);
    options.workdir = image.workdir;
    auto built = harness::BuildImage(options);
    if (!built.ok()) {
      image.skip_reason = "could not build the guest image: " + built.error().message();
      return;
    }
    image.image = *built;
  }
  ~Owner() {
    if (!image.workdir.empty()) (void)harness::RemoveTree(image.workdir);
  }
  TestImage image;
};

}  // namespace

const TestImage& SharedTestImage() {
  static Owner owner;
  return owner.image;
}

std::string MountPoints() {
  std::multiset<std::string> points;
  for (const auto& m : harness::ReadMountInfo().ValueOrThrow()) points.insert(m.target);
  std::string out;
  for (const auto& p : points) out += p + "\n";
  return out;
}

bool PathExists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

std::vector<std::string> RunCgroupDirs(const std::string& run_id,
                                       const std::string& extra_v2_root) {
  std::vector<std::string> found;
  auto mounts = DetectCgroupMounts();
  if (!mounts.ok()) return found;
  std::set<std::string> roots;
  for (const auto& [c, m] : mounts->controllers) roots.insert(m);
  if (!mounts->unified.empty()) roots.insert(mounts->unified);
  if (!extra_v2_root.empty()) roots.insert(extra_v2_root);
  for (const auto& root : roots) {
    std::string dir = root + "/" + kCgroupParent + "/" + run_id;
    if (PathExists(dir)) found.push_back(dir);
  }
  return found;
}

}  // namespace isobench::container::testing
