// The guest image in the Docker daemon: `isobench/guest:<hash>`, built from the shared
// userland through POST /build (FROM scratch, one COPY per layer) and reused while the
// hash of the userland is unchanged.
//
//   ISO_ASSIGN_OR_RETURN(DockerImage image, EnsureGuestImage(client, guest_image));
//   // image.tag, image.id; image.built tells whether this call built it
//
// A failed build leaves nothing behind: intermediate containers are removed by the
// daemon (forcerm=1) and the layers the failed build committed (not cache hits, which
// belong to other images) are deleted.
#pragma once

#include <map>
#include <string>

#include "container/docker/docker_client.h"
#include "container/docker/docker_spec.h"
#include "harness/image.h"

namespace isobench::container::docker {

struct DockerImage {
  std::string tag;
  std::string id;
  bool built = false;
  double build_seconds = 0;
};

Result<DockerImage> EnsureGuestImage(DockerClient& client, const harness::GuestImage& image);

// Removes isobench guest images (label isobench.image) other than `keep_hash`: beyond
// the harness::kKeepImages newest, and older than `min_age_seconds`, never forced, so an
// image a container still uses stays. EnsureGuestImage calls it. `scope`
// ("key=value"), when given, limits it to the images that also carry that label: a test
// prunes its own images, never the image a concurrent run is about to use.
void PruneGuestImages(DockerClient& client, const std::string& keep_hash,
                      int min_age_seconds = 3600, const std::string& scope = "");

// POST /build of a tar context; the image is tagged `tag` and labelled `labels`. Returns
// the image id, or an error carrying the daemon's words ("building `tag`: COPY failed:
// ...") after removing what the failed build committed.
Result<std::string> BuildFromContext(DockerClient& client, const std::string& context_tar,
                                     const std::string& tag,
                                     const std::map<std::string, std::string>& labels);

// The daemon's own pull (POST /images/create) of `reference`, an image in the loopback
// registry (harness/registry.h: refused otherwise). Docker trusts 127.0.0.0/8 registries
// without TLS by default.
Result<PullOutcome> PullFromRegistry(DockerClient& client, const std::string& reference);

// Removes the images of the registry at `registry` ("127.0.0.1:5147/isobench/..." tags)
// that no container uses (never forced): afterwards a pull is cold, apart from layers
// other images share. Returns how many went.
Result<int> RemoveRegistryImages(DockerClient& client, const std::string& registry);

}  // namespace isobench::container::docker
