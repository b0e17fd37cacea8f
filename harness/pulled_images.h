// The registry images a backend started from (InstanceSpec::image), in the layer store
// (layers.h), one per backend (<workdir>/layers/<backend>): what Backend::Pull, EvictImages and
// ImageLayerDirs of the backends that unpack images themselves (the native runtime, OCI runtimes)
// share. Thread-safe: parallel starts may ask for the same image; it is pulled once.
//
//   PulledImages images(context.workdir + "/layers/container");
//   ISO_ASSIGN_OR_RETURN(auto image, images.Get(spec.image));  // pulled when not held
//   std::string lowerdir = LowerDirOf(image->lowers);          // "top:...:base"
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "harness/backend.h"
#include "harness/layers.h"

namespace isobench::harness {

class PulledImages {
 public:
  explicit PulledImages(std::string store_root) : store_(std::move(store_root)) {}

  // The image, held from now until Evict(); pulled unless already held. With `pull`, it
  // is pulled in any case (a warm pull when its layers are there) and `pull` says what
  // that did.
  Result<std::shared_ptr<const PulledImage>> Get(const std::string& reference,
                                                 ImagePull* pull = nullptr);
  // Its unpacked layers, top first; ENOENT when not held.
  Result<std::vector<std::string>> LayerDirs(const std::string& reference);
  // Lets go of every image and empties the store of what no instance holds.
  Result<int> Evict();

 private:
  LayerStore store_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<const PulledImage>> held_;
};

// overlayfs's lowerdir= of layer directories (top first): ':'-separated.
std::string LowerDirOf(const std::vector<std::string>& layers);

}  // namespace isobench::harness
