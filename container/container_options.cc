#include "container/container_options.h"

#include <cerrno>
#include <charconv>

namespace isobench::container {

using harness::Error;
using harness::Result;

namespace {

constexpr std::string_view kPrefix = "container.";

// A whole number in [min, max], or an error naming the key and saying what it must be.
Result<int64_t> ParseIntIn(const std::string& key, const std::string& value, int64_t min,
                           int64_t max, const std::string& what) {
  int64_t n = 0;
  auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (value.empty() || ec != std::errc() || ptr != value.data() + value.size() || n < min ||
      n > max)
    return Error(key + ": `" + value + "` is not " + what, EINVAL);
  return n;
}

}  // namespace

Result<ContainerOptions> ParseContainerOptions(const std::map<std::string, std::string>& options) {
  ContainerOptions o;
  bool userns_given = false;
  for (const auto& [key, value] : options) {
    if (!key.starts_with(kPrefix)) continue;
    if (key == "container.cgroup") {
      if (value == "auto")
        o.cgroup = CgroupDriver::kAuto;
      else if (value == "v1")
        o.cgroup = CgroupDriver::kV1;
      else if (value == "v2")
        o.cgroup = CgroupDriver::kV2;
      else
        return Error("container.cgroup must be auto, v1 or v2, not `" + value + "`", EINVAL);
    } else if (key == "container.cgroup_v2_mount") {
      if (value.empty() || value.front() != '/')
        return Error("container.cgroup_v2_mount must be an absolute path, not `" + value + "`",
                     EINVAL);
      o.cgroup_v2_mount = value;
    } else if (key == "container.userns_map") {
      ISO_ASSIGN_OR_RETURN(o.userns_map, ParseIdMap(value).Context("container.userns_map"));
      userns_given = true;
    } else if (key == "container.ready_timeout_ms") {
      ISO_ASSIGN_OR_RETURN(
          int64_t ms, ParseIntIn(key, value, 1, 86'400'000, "a positive number of milliseconds"));
      o.ready_timeout = std::chrono::milliseconds(ms);
    } else if (key == "container.upper") {
      if (value == "auto")
        o.upper = UpperLayer::kAuto;
      else if (value == "tmpfs")
        o.upper = UpperLayer::kTmpfs;
      else if (value == "disk")
        o.upper = UpperLayer::kDisk;
      else
        return Error("container.upper must be auto, tmpfs or disk, not `" + value + "`", EINVAL);
    } else if (key == "container.spawn") {
      if (value == "vfork")
        o.one_step_allowed = true;
      else if (value == "fork")
        o.one_step_allowed = false;
      else
        return Error("container.spawn must be vfork or fork, not `" + value + "`", EINVAL);
    } else if (key == "container.netns_pool") {
      ISO_ASSIGN_OR_RETURN(int64_t n, ParseIntIn(key, value, 0, kMaxNetnsPool,
                                                 "a number of namespaces from 0 to " +
                                                     std::to_string(kMaxNetnsPool)));
      o.netns_pool = static_cast<int>(n);
    } else {
      return Error("unknown option `" + key +
                       "` (container.* keys: cgroup, cgroup_v2_mount, userns_map, "
                       "ready_timeout_ms, upper, spawn, netns_pool)",
                   EINVAL);
    }
  }
  if (!userns_given) {
    ISO_ASSIGN_OR_RETURN(o.userns_map, ParseIdMap("100000"));
  }
  return o;
}

}  // namespace isobench::container
