#include "container/container_options.h"

#include <cerrno>
#include <charconv>

namespace isobench::container {

using harness::Error;
using harness::Result;

namespace {

constexpr std::string_view kPrefix = "container.";

Result<std::chrono::milliseconds> ParsePositiveMillis(const std::string& key,
                                                      const std::string& value) {
  int64_t ms = 0;
  auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), ms);
  if (value.empty() || ec != std::errc() || ptr != value.data() + value.size() || ms <= 0 ||
      ms > 86'400'000)
    return Error(std::string(key) + ": `" + value + "` is not a positive number of milliseconds",
                 EINVAL);
  return std::chrono::milliseconds(ms);
}

// 0..kMaxNetnsPool.
Result<int> ParsePoolSize(const std::string& key, const std::string& value) {
  int n = 0;
  auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (value.empty() || ec != std::errc() || ptr != value.data() + value.size() || n < 0 ||
      n > kMaxNetnsPool)
    return Error(key + ": `" + value + "` is not a number of namespaces from 0 to " +
                     std::to_string(kMaxNetnsPool),
                 EINVAL);
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
      ISO_ASSIGN_OR_RETURN(o.ready_timeout, ParsePositiveMillis(key, value));
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
      ISO_ASSIGN_OR_RETURN(o.netns_pool, ParsePoolSize(key, value));
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
