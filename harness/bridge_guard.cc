#include "harness/bridge_guard.h"

#include <arpa/inet.h>
#include <linux/if.h>
#include <nftables/libnftables.h>
#include <unistd.h>

#include <cctype>
#include <memory>
#include <sstream>

#include "harness/fd.h"

namespace isobench::harness {
namespace {

struct CtxFree {
  void operator()(nft_ctx* ctx) const { nft_ctx_free(ctx); }
};

// One transaction. `output`: what nft printed (listings).
Result<void> Nft(const std::string& commands, std::string* output = nullptr) {
  std::unique_ptr<nft_ctx, CtxFree> ctx(nft_ctx_new(NFT_CTX_DEFAULT));
  if (!ctx) return Error("nftables: nft_ctx_new failed", ENOMEM);
  nft_ctx_buffer_output(ctx.get());
  nft_ctx_buffer_error(ctx.get());
  int rc = nft_run_cmd_from_buffer(ctx.get(), commands.c_str());
  if (rc != 0) {
    std::string words = nft_ctx_get_error_buffer(ctx.get());
    while (!words.empty() && (words.back() == '\n' || words.back() == ' ')) words.pop_back();
    return Error("nftables: " + (words.empty() ? std::string("command failed") : words), EIO);
  }
  if (output) *output = nft_ctx_get_output_buffer(ctx.get());
  return {};
}

// A link name we made: letters and digits only (isobench0, isbd01ff, isbv0a1c).
Result<void> CheckLinkName(const std::string& name) {
  bool ok = !name.empty() && name.size() < IFNAMSIZ;
  for (char c : name) ok = ok && std::isalnum(static_cast<unsigned char>(c));
  if (!ok) return Error("not a link name of ours: `" + name + "`", EINVAL);
  return {};
}

std::string Table(const std::string& bridge) {
  return "inet " + std::string(kGuardTablePrefix) + bridge;
}

Result<std::string> SetOf(const std::string& protocol) {
  if (protocol == "tcp") return std::string("open_tcp");
  if (protocol == "udp") return std::string("open_udp");
  return Error("not a protocol the guard opens: `" + protocol + "` (tcp or udp)", EINVAL);
}

Result<void> CheckPort(int port) {
  if (port < 1 || port > 65535) return Error("not a port: " + std::to_string(port), EINVAL);
  return {};
}

Result<void> CheckIpv4(const std::string& address) {
  struct in_addr in;
  if (::inet_pton(AF_INET, address.c_str(), &in) != 1)
    return Error("not an IPv4 address: `" + address + "`", EINVAL);
  return {};
}

// `delete element` fails when the element is absent; adding it first makes the pair
// idempotent, in one transaction.
Result<void> RemoveElement(const std::string& bridge, const std::string& set,
                           const std::string& element) {
  std::string table = Table(bridge);
  return Nft("add element " + table + " " + set + " { " + element + " }\n" + "delete element " +
             table + " " + set + " { " + element + " }\n");
}

}  // namespace

Result<void> GuardBridge(const std::string& bridge) {
  ISO_RETURN_IF_ERROR(CheckLinkName(bridge));
  const std::string t = Table(bridge);
  std::ostringstream s;
  s << "add table " << t << "\n"
    << "add set " << t << " exempt { type ipv4_addr; }\n"
    << "add set " << t << " open_tcp { type inet_service; }\n"
    << "add set " << t << " open_udp { type inet_service; }\n"
    << "add chain " << t
    << " input { type filter hook input priority filter - 1; policy accept; }\n"
    << "flush chain " << t << " input\n";
  const std::string rule = "add rule " + t + " input ";
  s << rule << "iifname != \"" << bridge << "\" accept\n"
    << rule << "ip saddr @exempt accept\n"
    << rule << "tcp dport @open_tcp accept\n"
    << rule
    << "udp dport @open_udp accept\n"
    // A new connection to any other port; segments of connections the host made pass.
    << rule << "tcp flags & (syn | ack) == syn reject with tcp reset\n"
    << rule << "meta l4proto { tcp, icmp } accept\n"
    << rule << "reject with icmpx type admin-prohibited\n";
  return Nft(s.str()).Context("guarding bridge `" + bridge + "`");
}

Result<void> UnguardBridge(const std::string& bridge) {
  ISO_RETURN_IF_ERROR(CheckLinkName(bridge));
  const std::string t = Table(bridge);
  return Nft("add table " + t + "\ndelete table " + t + "\n")
      .Context("removing the guard of bridge `" + bridge + "`");
}

Result<void> OpenGuardPort(const std::string& bridge, const std::string& protocol, int port) {
  ISO_RETURN_IF_ERROR(CheckLinkName(bridge));
  ISO_ASSIGN_OR_RETURN(std::string set, SetOf(protocol));
  ISO_RETURN_IF_ERROR(CheckPort(port));
  return Nft("add element " + Table(bridge) + " " + set + " { " + std::to_string(port) + " }\n")
      .Context("opening " + protocol + " port " + std::to_string(port) + " on `" + bridge + "`");
}

Result<void> CloseGuardPort(const std::string& bridge, const std::string& protocol, int port) {
  ISO_RETURN_IF_ERROR(CheckLinkName(bridge));
  ISO_ASSIGN_OR_RETURN(std::string set, SetOf(protocol));
  ISO_RETURN_IF_ERROR(CheckPort(port));
  return RemoveElement(bridge, set, std::to_string(port))
      .Context("closing " + protocol + " port " + std::to_string(port) + " on `" + bridge + "`");
}

Result<void> ExemptFromGuard(const std::string& bridge, const std::string& ipv4) {
  ISO_RETURN_IF_ERROR(CheckLinkName(bridge));
  ISO_RETURN_IF_ERROR(CheckIpv4(ipv4));
  return Nft("add element " + Table(bridge) + " exempt { " + ipv4 + " }\n")
      .Context("exempting " + ipv4 + " from the guard of `" + bridge + "`");
}

Result<void> UnexemptFromGuard(const std::string& bridge, const std::string& ipv4) {
  ISO_RETURN_IF_ERROR(CheckLinkName(bridge));
  ISO_RETURN_IF_ERROR(CheckIpv4(ipv4));
  return RemoveElement(bridge, "exempt", ipv4).Context("guarding " + ipv4 + " on `" + bridge + "`");
}

Result<void> IsolateBridgePort(const std::string& link, bool on) {
  ISO_RETURN_IF_ERROR(CheckLinkName(link));
  const std::string path = "/sys/class/net/" + link + "/brport/isolated";
  if (::access(path.c_str(), F_OK) != 0)
    return Error("`" + link + "` is not a bridge port, or this kernel has no port isolation (" +
                     path + " is missing; Linux 4.18 added it)",
                 ENOENT);
  return WriteFile(path, on ? "1" : "0");
}

Result<void> GuardInstancePort(const std::string& bridge, const std::string& link,
                               const std::string& address, bool guard) {
  ISO_RETURN_IF_ERROR(IsolateBridgePort(link, guard));
  if (guard) return UnexemptFromGuard(bridge, address);
  return ExemptFromGuard(bridge, address);
}

Result<std::string> BridgeOf(const std::string& link) {
  ISO_RETURN_IF_ERROR(CheckLinkName(link));
  if (::access(("/sys/class/net/" + link + "/bridge").c_str(), F_OK) == 0) return link;
  char target[256];
  const std::string path = "/sys/class/net/" + link + "/master";
  ssize_t n = ::readlink(path.c_str(), target, sizeof target - 1);
  if (n < 0) return Error("`" + link + "` is on no bridge (" + path + ")", ENOENT);
  std::string t(target, static_cast<size_t>(n));
  return t.substr(t.rfind('/') + 1);
}

Result<std::vector<std::string>> GuardedBridges() {
  std::string listing;
  ISO_RETURN_IF_ERROR(Nft("list tables inet\n", &listing));
  std::vector<std::string> bridges;
  std::istringstream in(listing);
  std::string word, family, name;
  while (in >> word >> family >> name) {  // "table inet isobench_isobench0"
    if (word == "table" && name.rfind(kGuardTablePrefix, 0) == 0)
      bridges.push_back(name.substr(std::string(kGuardTablePrefix).size()));
  }
  return bridges;
}

Result<int> ReclaimStaleGuards() {
  ISO_ASSIGN_OR_RETURN(std::vector<std::string> bridges, GuardedBridges());
  int removed = 0;
  for (const auto& bridge : bridges) {
    if (::access(("/sys/class/net/" + bridge).c_str(), F_OK) == 0) continue;
    ISO_RETURN_IF_ERROR(UnguardBridge(bridge));
    ++removed;
  }
  return removed;
}

Result<void> GuardAvailable() {
  std::string listing;
  return Nft("list tables\n", &listing)
      .Context("the bridge guard needs nftables (the kernel's nf_tables, CONFIG_NF_TABLES)");
}

}  // namespace isobench::harness
