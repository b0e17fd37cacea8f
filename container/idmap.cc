#include "container/idmap.h"

#include <grp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <charconv>

#include "harness/fd.h"

namespace isobench::container {

std::string FormatIdMap(const std::vector<IdMapping>& map) {
  std::string out;
  for (const auto& m : map) {
    out += std::to_string(m.inside) + " " + std::to_string(m.outside) + " " +
           std::to_string(m.count) + "\n";
  }
  return out;
}

namespace {

Result<uint32_t> ParseU32(std::string_view text, std::string_view what) {
  uint32_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || text.empty())
    return Error("id map: `" + std::string(text) + "` is not a valid " + std::string(what), EINVAL);
  return value;
}

}  // namespace

Result<std::vector<IdMapping>> ParseIdMap(std::string_view text) {
  std::vector<IdMapping> map;
  if (text.find(':') == std::string_view::npos) {
    ISO_ASSIGN_OR_RETURN(uint32_t base, ParseU32(text, "host id base"));
    map.push_back({0, base, 65536});
  } else {
    while (!text.empty()) {
      size_t comma = text.find(',');
      std::string_view entry = text.substr(0, comma);
      text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
      size_t c1 = entry.find(':');
      size_t c2 = c1 == std::string_view::npos ? c1 : entry.find(':', c1 + 1);
      if (c2 == std::string_view::npos)
        return Error("id map: `" + std::string(entry) + "` is not inside:outside:count", EINVAL);
      IdMapping m;
      ISO_ASSIGN_OR_RETURN(m.inside, ParseU32(entry.substr(0, c1), "inside id"));
      ISO_ASSIGN_OR_RETURN(m.outside, ParseU32(entry.substr(c1 + 1, c2 - c1 - 1), "outside id"));
      ISO_ASSIGN_OR_RETURN(m.count, ParseU32(entry.substr(c2 + 1), "count"));
      map.push_back(m);
    }
  }
  for (size_t i = 0; i < map.size(); ++i) {
    const auto& a = map[i];
    if (a.count == 0) return Error("id map: a range with count 0", EINVAL);
    if (uint64_t{a.inside} + a.count > (1ull << 32) || uint64_t{a.outside} + a.count > (1ull << 32))
      return Error("id map: range " + std::to_string(a.inside) + ":" + std::to_string(a.outside) +
                       ":" + std::to_string(a.count) + " wraps past 2^32",
                   EINVAL);
    for (size_t j = 0; j < i; ++j) {
      const auto& b = map[j];
      bool inside_overlap =
          a.inside < b.inside + uint64_t{b.count} && b.inside < a.inside + uint64_t{a.count};
      bool outside_overlap =
          a.outside < b.outside + uint64_t{b.count} && b.outside < a.outside + uint64_t{a.count};
      if (inside_overlap || outside_overlap)
        return Error("id map: ranges overlap (user_namespaces(7) forbids it)", EINVAL);
    }
  }
  return map;
}

int64_t MapToHost(const std::vector<IdMapping>& map, uint32_t inside) {
  for (const auto& m : map)
    if (inside >= m.inside && inside - m.inside < m.count)
      return int64_t{m.outside} + (inside - m.inside);
  return -1;
}

Result<void> WriteIdMaps(pid_t pid, const std::string& uid_map, const std::string& gid_map) {
  std::string dir = "/proc/" + std::to_string(pid) + "/";
  ISO_RETURN_IF_ERROR(harness::WriteFile(dir + "uid_map", uid_map));
  ISO_RETURN_IF_ERROR(harness::WriteFile(dir + "gid_map", gid_map));
  return {};
}

ChildStatus BecomeNamespaceRoot() {
  // Raw system calls: glibc's setresuid() signals every thread of the process, and
  // the child's copy of the harness believes it still has the parent's threads.
  if (::syscall(SYS_setgroups, 0, nullptr) != 0) return ChildStatus::Errno("setgroups", "0");
  if (::syscall(SYS_setresgid, 0, 0, 0) != 0) return ChildStatus::Errno("setresgid", "0");
  if (::syscall(SYS_setresuid, 0, 0, 0) != 0) return ChildStatus::Errno("setresuid", "0");
  return ChildStatus::Ok();
}

}  // namespace isobench::container
