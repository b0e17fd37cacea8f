#include "container/docker/docker_image.h"

#include <algorithm>
#include <ctime>

#include "container/docker/docker_spec.h"
#include "harness/backend.h"
#include "harness/log.h"
#include "harness/registry.h"

namespace isobench::container::docker {

using json = nlohmann::json;

Result<std::string> BuildFromContext(DockerClient& client, const std::string& context_tar,
                                     const std::string& tag,
                                     const std::map<std::string, std::string>& labels) {
  ISO_ASSIGN_OR_RETURN(HttpResponse r,
                       client.Request("POST", "/build?" + BuildQuery(tag, labels), context_tar,
                                      "application/x-tar", std::chrono::minutes(10)));
  if (r.status != 200)
    return Error("docker: building `" + tag + "`: " + DaemonMessage(r.body) + " (HTTP " +
                     std::to_string(r.status) + ")",
                 EIO);
  BuildOutcome outcome = ParseBuildStream(r.body);
  if (!outcome.error.empty()) {
    // Newest first: a layer cannot go while a child of it exists. Without force, an
    // image another tag or container uses is refused, never taken.
    std::reverse(outcome.created_ids.begin(), outcome.created_ids.end());
    for (const auto& id : outcome.created_ids) {
      auto removed = client.Call("DELETE", "/images/" + id, nullptr, /*not_found_ok=*/true);
      if (!removed.ok())
        ISO_LOG(kWarning) << "docker: removing layer " << id
                          << " of the failed build: " << removed.error().message();
    }
    std::string error = outcome.error;
    while (!error.empty() && (error.back() == '\n' || error.back() == ' ')) error.pop_back();
    return Error("docker: building `" + tag + "`: " + error, EIO);
  }
  return outcome.image_id;
}

void PruneGuestImages(DockerClient& client, const std::string& keep_hash, int min_age_seconds,
                      const std::string& scope) {
  json filters = {{"label", json::array({std::string(kLabelImageHash)})}};
  if (!scope.empty()) filters["label"].push_back(scope);
  auto listed = client.Call("GET", "/images/json?filters=" + UrlEncode(filters.dump()));
  if (!listed.ok() || !listed->is_array()) return;
  struct Old {
    int64_t created;
    std::string tag;
  };
  std::vector<Old> others;
  for (const auto& image : *listed) {
    if (!image.is_object()) continue;
    const json& labels =
        image.contains("Labels") && image["Labels"].is_object() ? image["Labels"] : json::object();
    auto hash = labels.find(kLabelImageHash);
    if (hash == labels.end() || !hash->is_string() || *hash == keep_hash) continue;
    std::string tag = ImageTag(hash->get<std::string>());
    int64_t created = image.contains("Created") && image["Created"].is_number_integer()
                          ? image["Created"].get<int64_t>()
                          : 0;
    others.push_back({created, tag});
  }
  std::sort(others.begin(), others.end(),
            [](const Old& a, const Old& b) { return a.created > b.created; });
  const int64_t young = static_cast<int64_t>(::time(nullptr)) - min_age_seconds;
  int removed = 0;
  for (size_t i = harness::kKeepImages; i < others.size(); ++i) {
    if (others[i].created > young) continue;
    // Without force: an image a container (of any run) still uses is refused, not taken.
    if (client.Call("DELETE", "/images/" + others[i].tag, nullptr, /*not_found_ok=*/true).ok())
      ++removed;
  }
  if (removed > 0) ISO_LOG(kInfo) << "docker: pruned " << removed << " old guest image(s)";
}

Result<DockerImage> EnsureGuestImage(DockerClient& client, const harness::GuestImage& image) {
  if (image.hash.empty() || image.rootfs.empty())
    return Error("docker: no guest image was given (BackendContext::image is empty)", EINVAL);
  DockerImage out;
  out.tag = ImageTag(image.hash);
  ISO_ASSIGN_OR_RETURN(json existing,
                       client.Call("GET", "/images/" + out.tag + "/json", nullptr, true));
  if (existing.is_object()) {
    out.id = existing.value("Id", "");
    PruneGuestImages(client, image.hash);
    return out;
  }
  auto start = harness::Clock::now();
  ISO_ASSIGN_OR_RETURN(std::string tar, BuildContextTar(image.rootfs, GuestDockerfile(image.hash)));
  ISO_ASSIGN_OR_RETURN(out.id, BuildFromContext(client, tar, out.tag,
                                                {{kLabel, "1"}, {kLabelImageHash, image.hash}}));
  out.built = true;
  out.build_seconds = harness::SecondsBetween(start, harness::Clock::now());
  ISO_LOG(kInfo) << "docker: built " << out.tag << " (" << tar.size() / 1024 << " KiB context) in "
                 << out.build_seconds << " s";
  PruneGuestImages(client, image.hash);
  return out;
}

Result<PullOutcome> PullFromRegistry(DockerClient& client, const std::string& reference) {
  ISO_ASSIGN_OR_RETURN(harness::RegistryReference ref, harness::ParseReference(reference));
  std::string query = "fromImage=" + UrlEncode(ref.host + "/" + ref.repository) +
                      "&tag=" + UrlEncode(ref.digest.empty() ? ref.tag : ref.digest);
  ISO_ASSIGN_OR_RETURN(HttpResponse r,
                       client.Request("POST", "/images/create?" + query, "", "application/json",
                                      std::chrono::minutes(10)));
  PullOutcome outcome = ParsePullStream(r.body);
  if (r.status / 100 != 2 && outcome.error.empty()) {
    json body = json::parse(r.body, nullptr, false);
    outcome.error = body.is_object() ? body.value("message", r.body) : r.body;
  }
  if (!outcome.error.empty())
    return Error("docker: pulling `" + reference + "`: " + outcome.error, EIO);
  return outcome;
}

Result<int> RemoveRegistryImages(DockerClient& client, const std::string& registry) {
  ISO_ASSIGN_OR_RETURN(json listed, client.Call("GET", "/images/json"));
  int removed = 0;
  std::string prefix = registry + "/isobench/";
  for (const auto& image : listed) {
    if (!image.is_object()) continue;
    for (const auto& tag : image.value("RepoTags", json::array())) {
      if (!tag.is_string() || !tag.get<std::string>().starts_with(prefix)) continue;
      auto r = client.Request("DELETE", "/images/" + UrlEncode(tag.get<std::string>()));
      if (r.ok() && r->status / 100 == 2) ++removed;
    }
  }
  return removed;
}

}  // namespace isobench::container::docker
