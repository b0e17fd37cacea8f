#include "harness/pulled_images.h"

namespace isobench::harness {

Result<std::shared_ptr<const PulledImage>> PulledImages::Get(const std::string& reference,
                                                             ImagePull* pull) {
  std::lock_guard<std::mutex> lock(mu_);
  if (pull == nullptr)
    if (auto it = held_.find(reference); it != held_.end()) return it->second;
  auto t0 = Clock::now();
  ISO_ASSIGN_OR_RETURN(PulledImage pulled, store_.Pull(reference));
  if (pull != nullptr) {
    pull->reference = reference;
    pull->digest = pulled.manifest_digest;
    pull->seconds = SecondsBetween(t0, Clock::now());
    pull->layers = static_cast<int>(pulled.lowers.size());
    pull->layers_fetched = pulled.layers_fetched;
    pull->fetched_bytes = pulled.fetched_bytes;
    pull->layers_unpacked = pulled.layers_unpacked;
    pull->fetch_seconds = pulled.fetch_seconds;
    pull->verify_seconds = pulled.verify_seconds;
    pull->unpack_seconds = pulled.unpack_seconds;
  }
  auto held = std::make_shared<const PulledImage>(std::move(pulled));
  held_[reference] = held;
  return held;
}

Result<std::vector<std::string>> PulledImages::LayerDirs(const std::string& reference) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = held_.find(reference);
  if (it == held_.end()) return Error("`" + reference + "` was not pulled by this backend", ENOENT);
  return it->second->lowers;
}

Result<int> PulledImages::Evict() {
  std::lock_guard<std::mutex> lock(mu_);
  held_.clear();
  return store_.Evict();
}

std::string LowerDirOf(const std::vector<std::string>& layers) {
  std::string lower;
  for (const auto& layer : layers) lower += (lower.empty() ? "" : ":") + layer;
  return lower;
}

}  // namespace isobench::harness
