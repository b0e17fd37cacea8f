#include "container/docker/docker_image.h"

#include <algorithm>

#include "container/docker/docker_spec.h"
#include "harness/backend.h"
#include "harness/log.h"

namespace isobench::container::docker {

using json = nlohmann::json;

Result<std::string> BuildFromContext(DockerClient& client, const std::string& context_tar, const std::string& tag,
                                     const std::map<std::string, std::string>& labels) {
  ISO_ASSIGN_OR_RETURN(HttpResponse r, client.Request("POST", "/build?" + BuildQuery(tag, labels), context_tar,
                                                      "application/x-tar", std::chrono::minutes(10)));
  if (r.status != 200)
    return Error("docker: building `" + tag + "`: " + DaemonMessage(r.body) + " (HTTP " + std::to_string(r.status) +
                     ")",
                 EIO);
  BuildOutcome outcome = ParseBuildStream(r.body);
  if (!outcome.error.empty()) {
    // Newest first: a layer cannot go while a child of it exists. Without force, an
    // image another tag or container uses is refused, never taken.
    std::reverse(outcome.created_ids.begin(), outcome.created_ids.end());
    for (const auto& id : outcome.created_ids) {
      auto removed = client.Call("DELETE", "/images/" + id, nullptr, /*not_found_ok=*/true);
      if (!removed.ok())
        ISO_LOG(kWarning) << "docker: removing layer " << id << " of the failed build: " << removed.error().message();
    }
    std::string error = outcome.error;
    while (!error.empty() && (error.back() == '\n' || error.back() == ' ')) error.pop_back();
    return Error("docker: building `" + tag + "`: " + error, EIO);
  }
  return outcome.image_id;
}

Result<DockerImage> EnsureGuestImage(DockerClient& client, const harness::GuestImage& image) {
  if (image.hash.empty() || image.rootfs.empty())
    return Error("docker: no guest image was given (BackendContext::image is empty)", EINVAL);
  DockerImage out;
  out.tag = ImageTag(image.hash);
  ISO_ASSIGN_OR_RETURN(json existing, client.Call("GET", "/images/" + out.tag + "/json", nullptr, true));
  if (existing.is_object()) {
    out.id = existing.value("Id", "");
    return out;
  }
  auto start = harness::Clock::now();
  ISO_ASSIGN_OR_RETURN(std::string tar, BuildContextTar(image.rootfs, GuestDockerfile(image.hash)));
  ISO_ASSIGN_OR_RETURN(out.id, BuildFromContext(client, tar, out.tag, {{kLabel, "1"}, {kLabelImageHash, image.hash}}));
  out.built = true;
  out.build_seconds = harness::SecondsBetween(start, harness::Clock::now());
  ISO_LOG(kInfo) << "docker: built " << out.tag << " (" << tar.size() / 1024 << " KiB context) in "
                 << out.build_seconds << " s";
  return out;
}

}  // namespace isobench::container::docker
