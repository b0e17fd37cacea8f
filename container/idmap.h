// User namespaces: the uid/gid maps the parent writes for the child, and the child's
// switch to its namespace's root once they are in place.
//
//   // parent, after clone3(CLONE_NEWUSER | ...), before sending "go":
//   ISO_RETURN_IF_ERROR(WriteIdMaps(pid, plan.uid_map, plan.gid_map));
//   // child, after "go":
//   CHILD_RETURN_IF_ERROR(BecomeNamespaceRoot());
//
// The default map gives container ids 0..65535 to host ids 100000..165535 (Docker's
// userns-remap convention); `container.userns_base` overrides 100000. Files of the
// image owned by host root appear as the overflow uid 65534 inside, which is why the
// overlay's upper and work directories are chowned to the mapped root.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "container/child_status.h"

namespace isobench::container {

struct IdMapping {
  uint32_t inside = 0;
  uint32_t outside = 0;
  uint32_t count = 0;
};

// "0 100000 65536\n" lines, as /proc/<pid>/uid_map wants them in one write(2).
std::string FormatIdMap(const std::vector<IdMapping>& map);
// Parses "100000" (base, 65536 ids) or "0:100000:65536[,…]"; rejects overlaps and
// ranges that wrap around 2^32.
Result<std::vector<IdMapping>> ParseIdMap(std::string_view text);
// The host id that `inside` maps to, or -1 when unmapped.
int64_t MapToHost(const std::vector<IdMapping>& map, uint32_t inside);

// Parent: writes /proc/<pid>/{uid_map,gid_map}. As a privileged writer the parent may
// map any range (user_namespaces(7) "Defining user and group ID mappings").
Result<void> WriteIdMaps(pid_t pid, const std::string& uid_map, const std::string& gid_map);

// Child: setresgid/setresuid(0) and an empty supplementary group list.
ChildStatus BecomeNamespaceRoot();

}  // namespace isobench::container
