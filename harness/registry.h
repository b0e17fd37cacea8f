// The image registry on this host: the distribution project's registry (Debian's
// `docker-registry`, API v2), which ci/setup.sh starts on 127.0.0.1:5147 with its
// storage under the work directory. isobench pushes the guest userland there as layered
// OCI images (layers.h) and every container backend starts from what it pulls back.
// Only a loopback registry is accepted: nothing is fetched from outside the host.
//
//   ISO_ASSIGN_OR_RETURN(PublishedImages images, PublishGuestImages(RegistryAddress(), image, 0));
//   // images.guest == "127.0.0.1:5147/isobench/guest:<image hash>"
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "harness/error.h"
#include "harness/image.h"
#include "harness/layers.h"

namespace isobench::harness {

constexpr const char* kDefaultRegistry = "127.0.0.1:5147";

// $ISOBENCH_REGISTRY, else kDefaultRegistry.
std::string RegistryAddress();

// host:port/repository[:tag][@sha256:...], the host a loopback address.
struct RegistryReference {
  std::string host;        // "127.0.0.1:5147"
  std::string repository;  // "isobench/guest"
  std::string tag;         // "ab12" (empty when only a digest names it)
  std::string digest;      // "sha256:..." or empty
  std::string String() const;
};
// An error naming what is wrong: no host, a host that is not loopback, a repository or
// tag with characters the distribution spec refuses, a `..`.
Result<RegistryReference> ParseReference(const std::string& reference);
// `host` is 127.0.0.0/8, ::1 or localhost, with a port.
bool IsLoopbackHost(const std::string& host);

// GET /v2/ answers 200: an error naming the address and how to start one otherwise.
Result<void> PingRegistry(const std::string& address);

constexpr const char* kSkopeo = "/usr/bin/skopeo";
// What publishing and pulling need: skopeo installed, and PingRegistry(address).
Result<void> CheckRegistry(const std::string& address);

struct PublishedImages {
  std::string guest, alt, padded;   // references; padded empty when not asked for
  std::vector<LayoutImage> images;  // what each is made of (guest, alt, padded)
  int pushed = 0;                   // images this call pushed (0: all were there)
  double seconds = 0;               // layout written and pushed
};

// Writes the guest userland's OCI layout (once per image and padding size, under
// <image.dir>/oci-<padded MiB>) and pushes each image the registry does not already hold
// with that manifest digest, tagged with the image's hash.
Result<PublishedImages> PublishGuestImages(const std::string& address, const GuestImage& image,
                                           uint64_t padded_bytes);

}  // namespace isobench::harness
