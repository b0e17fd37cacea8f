#include "harness/registry.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <cstring>

#include "harness/backend.h"
#include "harness/child_process.h"

namespace isobench::harness {

namespace {

bool ValidPathComponent(std::string_view s) {
  // distribution's reference grammar: [a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*
  if (s.empty() || s == "." || s == "..") return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
      return false;
  return std::isalnum(static_cast<unsigned char>(s.front())) &&
         std::isalnum(static_cast<unsigned char>(s.back()));
}

bool ValidTag(std::string_view s) {
  if (s.empty() || s.size() > 128 || s[0] == '.' || s[0] == '-') return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-')
      return false;
  return true;
}

}  // namespace

std::string RegistryAddress() {
  if (const char* env = std::getenv("ISOBENCH_REGISTRY"); env && *env) return env;
  return kDefaultRegistry;
}

std::string RegistryReference::String() const {
  std::string s = host + "/" + repository;
  if (!tag.empty()) s += ":" + tag;
  if (!digest.empty()) s += "@" + digest;
  return s;
}

bool IsLoopbackHost(const std::string& host) {
  std::string name;
  if (host.starts_with("[")) {
    auto end = host.find("]:");
    if (end == std::string::npos) return false;
    name = host.substr(1, end - 1);
  } else {
    auto colon = host.rfind(':');
    if (colon == std::string::npos || colon + 1 == host.size()) return false;
    name = host.substr(0, colon);
    for (char c : host.substr(colon + 1))
      if (c < '0' || c > '9') return false;
  }
  if (name == "localhost" || name == "::1") return true;
  struct in_addr a;
  return ::inet_pton(AF_INET, name.c_str(), &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

Result<RegistryReference> ParseReference(const std::string& reference) {
  auto bad = [&](const std::string& why) {
    return Error("image reference `" + reference + "`: " + why, EINVAL);
  };
  RegistryReference ref;
  auto slash = reference.find('/');
  if (slash == std::string::npos) return bad("no registry host (want host:port/repository:tag)");
  ref.host = reference.substr(0, slash);
  if (!IsLoopbackHost(ref.host))
    return bad("`" + ref.host + "` is not a loopback registry (127.0.0.1:<port>): isobench " +
               "fetches nothing from outside this host");
  std::string rest = reference.substr(slash + 1);
  if (auto at = rest.find('@'); at != std::string::npos) {
    ref.digest = rest.substr(at + 1);
    rest = rest.substr(0, at);
    if (!ValidDigest(ref.digest)) return bad("`" + ref.digest + "` is not a sha256 digest");
  }
  if (auto colon = rest.rfind(':'); colon != std::string::npos) {
    ref.tag = rest.substr(colon + 1);
    rest = rest.substr(0, colon);
    if (!ValidTag(ref.tag)) return bad("`" + ref.tag + "` is not a valid tag");
  }
  if (ref.tag.empty() && ref.digest.empty()) return bad("no tag or digest");
  size_t start = 0;
  while (start <= rest.size()) {
    size_t end = rest.find('/', start);
    if (end == std::string::npos) end = rest.size();
    if (!ValidPathComponent(std::string_view(rest).substr(start, end - start)))
      return bad("repository `" + rest + "` has an invalid component");
    start = end + 1;
  }
  ref.repository = rest;
  return ref;
}

Result<void> PingRegistry(const std::string& address) {
  auto fail = [&](const std::string& why) {
    return Error("no image registry answers at " + address + " (" + why +
                     "): run `bash ci/setup.sh`, which starts one (docker-registry)",
                 ECONNREFUSED);
  };
  if (!IsLoopbackHost(address)) return fail("not a loopback address");
  auto colon = address.rfind(':');
  std::string host = address.substr(0, colon), port = address.substr(colon + 1);
  if (host.starts_with("[")) host = host.substr(1, host.size() - 2);
  struct addrinfo hints {};
  hints.ai_socktype = SOCK_STREAM;
  struct addrinfo* res = nullptr;
  if (::getaddrinfo(host.c_str(), port.c_str(), &hints, &res) != 0 || res == nullptr)
    return fail("cannot resolve");
  Fd sock(::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  int rc = sock.valid() ? ::connect(sock.get(), res->ai_addr, res->ai_addrlen) : -1;
  ::freeaddrinfo(res);
  if (rc != 0) return fail(std::strerror(errno));
  std::string request = "GET /v2/ HTTP/1.0\r\nHost: " + address + "\r\n\r\n";
  ISO_RETURN_IF_ERROR(WriteAll(sock.get(), request));
  std::string reply;
  char buf[512];
  struct pollfd pfd = {sock.get(), POLLIN, 0};
  while (reply.find("\r\n") == std::string::npos && ::poll(&pfd, 1, 5000) > 0) {
    ssize_t n = ::read(sock.get(), buf, sizeof buf);
    if (n <= 0) break;
    reply.append(buf, static_cast<size_t>(n));
  }
  std::string status = reply.substr(0, reply.find("\r\n"));
  if (status.find(" 200") == std::string::npos) return fail("GET /v2/ answered `" + status + "`");
  return {};
}

Result<void> CheckRegistry(const std::string& address) {
  if (::access(kSkopeo, X_OK) != 0)
    return Error(std::string(kSkopeo) +
                     " is not installed (Debian package skopeo; ci/setup.sh "
                     "installs it)",
                 ENOENT);
  return PingRegistry(address);
}

Result<PublishedImages> PublishGuestImages(const std::string& address, const GuestImage& image,
                                           uint64_t padded_bytes) {
  ISO_RETURN_IF_ERROR(CheckRegistry(address));
  if (image.dir.empty() || image.hash.empty())
    return Error("the guest image was not made by BuildImage: nothing to publish", EINVAL);
  auto t0 = Clock::now();
  std::string mib = std::to_string(padded_bytes >> 20);
  std::string layout = image.dir + "/oci-" + mib;
  ISO_ASSIGN_OR_RETURN(Fd lock, Open(image.dir + "/.oci.lock", O_RDWR | O_CREAT, 0644));
  while (::flock(lock.get(), LOCK_EX) != 0)
    if (errno != EINTR) return Error::Errno("flock", image.dir + "/.oci.lock");
  // The layout is written once per image and padding: its digests never change.
  std::vector<LayoutImage> images;
  if (::access((layout + "/.complete").c_str(), F_OK) != 0) {
    (void)RemoveTree(layout);
    auto written = WriteGuestLayout(layout, image.rootfs, padded_bytes);
    if (!written.ok()) {
      (void)RemoveTree(layout);
      return written.error();
    }
    images = *written;
    nlohmann::json record = nlohmann::json::array();
    for (const auto& i : images) {
      nlohmann::json layers = nlohmann::json::array();
      for (const auto& l : i.layers) layers.push_back({{"digest", l.digest}, {"size", l.size}});
      record.push_back({{"name", i.name},
                        {"manifest", i.manifest_digest},
                        {"bytes", i.bytes},
                        {"layers", layers}});
    }
    ISO_RETURN_IF_ERROR(WriteWholeFile(layout + "/.complete", record.dump()));
  } else {
    ISO_ASSIGN_OR_RETURN(std::string text, ReadFile(layout + "/.complete"));
    auto record = nlohmann::json::parse(text, nullptr, false);
    if (!record.is_array()) return Error("`" + layout + "/.complete` is damaged", EBADMSG);
    for (const auto& r : record) {
      LayoutImage i;
      i.name = r.value("name", "");
      i.manifest_digest = r.value("manifest", "");
      i.bytes = r.value("bytes", uint64_t{0});
      for (const auto& l : r.value("layers", nlohmann::json::array()))
        i.layers.push_back(LayerBlob{l.value("digest", ""), "", l.value("size", uint64_t{0})});
      images.push_back(i);
    }
  }
  PublishedImages published;
  published.images = images;
  for (const auto& i : images) {
    std::string tag = image.hash + (i.name == "guest-padded" ? "-p" + mib : "");
    std::string ref = address + "/isobench/" + i.name + ":" + tag;
    if (i.name == "guest")
      published.guest = ref;
    else if (i.name == "guest-alt")
      published.alt = ref;
    else
      published.padded = ref;
    auto raw = RunCapture({kSkopeo, "inspect", "--raw", "--tls-verify=false", "docker://" + ref},
                          std::chrono::seconds(60));
    if (raw.ok() && Sha256Of(*raw) == i.manifest_digest) continue;
    auto pushed =
        RunCapture({kSkopeo, "copy", "--quiet", "--preserve-digests", "--dest-tls-verify=false",
                    "oci:" + layout + ":" + i.name, "docker://" + ref},
                   std::chrono::minutes(10));
    if (!pushed.ok())
      return Error("pushing `" + ref + "` with skopeo: " + pushed.error().message(),
                   pushed.error().errno_value());
    ++published.pushed;
  }
  published.seconds = SecondsBetween(t0, Clock::now());
  return published;
}

}  // namespace isobench::harness
