// OCI images of the guest userland, and the content-addressed layer store that
// containers start from (DESIGN.md "One guest userland"; the Image family).
//
// The shared userland (image.h) is cut into three layers, as a Dockerfile would make it:
// `base` (busybox, the directory skeleton, /etc), `tools` (every other file: fio and its
// libraries, kernel modules) and `agent` (the agent). Each layer is a deterministic
// gzip'd tar (sorted entries, mtime 0, owner 0:0), so the same files give the same
// digest on every host and every run. WriteGuestLayout writes the OCI image layout of
// three images:
//
//   guest         base + tools + agent                 what every backend starts
//   guest-alt     base + alt (the agent and a marker)  shares the base layer only
//   guest-padded  guest + one layer of `padded_bytes`  start-up against image size
//
// The layer store (LayerStore) is where a pulled image lives on this host:
//
//   <root>/oci/                  an OCI image layout: the blobs skopeo fetched
//   <root>/layers/<hex>/rootfs   a layer unpacked, named by its blob's sha256; the
//                                overlay lower directory every instance shares
//   <root>/layers/<hex>/.complete  written last; a shared flock on it while in use
//
// A blob is verified against its digest before it is unpacked, whoever fetched it: a
// layer whose bytes do not hash to the name the manifest gives it is refused, deleted,
// and named in the error. OCI whiteouts (`.wh.<name>`, `.wh..wh..opq`) become
// overlayfs ones (a 0:0 character device, the `trusted.overlay.opaque` xattr).
//
//   LayerStore store(workdir + "/layers/container");
//   ISO_ASSIGN_OR_RETURN(PulledImage image, store.Pull("127.0.0.1:5147/isobench/guest:ab12"));
//   // image.lowers: top layer first, for lowerdir=
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "harness/error.h"
#include "harness/fd.h"
#include "harness/image.h"

namespace isobench::harness {

// "sha256:<64 hex>" of some bytes, or of a file's contents.
std::string Sha256Of(std::string_view bytes);
Result<std::string> Sha256OfFile(const std::string& path);
// Whether `digest` is "sha256:" and 64 lower-case hex digits: the only digests the store
// names directories after.
bool ValidDigest(std::string_view digest);

// One entry of a layer.
struct LayerEntry {
  std::string path;  // absolute inside the image: "/bin/busybox"
  // The host file (lstat: a directory, symlink or regular file) it copies; empty for a
  // generated regular file of `generated_bytes` pseudo-random bytes (the padding layer),
  // the same bytes on every run.
  std::string source;
  uint64_t generated_bytes = 0;
  std::string content;  // with no source and no generated_bytes: a file of these bytes
};

struct LayerBlob {
  std::string digest;   // of the gzip'd tar: what a manifest names
  std::string diff_id;  // of the tar: what an image configuration names
  uint64_t size = 0;    // bytes of the blob
};

// Writes `entries` (sorted by path; the parent directories of each come with it) as a
// gzip'd tar into <layout>/blobs/sha256/.
Result<LayerBlob> WriteLayer(const std::string& layout, std::vector<LayerEntry> entries);

// The guest userland in three layers (see above).
struct GuestLayers {
  std::vector<LayerEntry> base, tools, agent;
};
Result<GuestLayers> SplitGuestRootfs(const std::string& rootfs);

struct LayoutImage {
  std::string name;             // ref name in the layout's index.json: "guest"
  std::string manifest_digest;  // as the registry will name it
  std::vector<LayerBlob> layers;
  uint64_t bytes = 0;  // the layers' blobs, summed
};

// Writes the layout (oci-layout, blobs, index.json) of guest, guest-alt and guest-padded
// into `layout` from the userland at `rootfs`. `padded_bytes` is the padding layer's
// size (0: no guest-padded).
Result<std::vector<LayoutImage>> WriteGuestLayout(const std::string& layout,
                                                  const std::string& rootfs, uint64_t padded_bytes);

// An image in the store, held in use (its layers are never pruned) while this lives.
struct PulledImage {
  std::string reference;
  std::string manifest_digest;
  std::vector<std::string> lowers;  // unpacked layer directories, top layer first
  uint64_t bytes = 0;               // compressed bytes of its layers
  // What this pull did: blobs fetched from the registry (skopeo copies only those the
  // store lacks), layers unpacked, and the time of each step.
  int layers_fetched = 0;
  int layers_unpacked = 0;
  uint64_t fetched_bytes = 0;
  double fetch_seconds = 0, verify_seconds = 0, unpack_seconds = 0;
  std::vector<std::shared_ptr<const Fd>> in_use;
};

class LayerStore {
 public:
  explicit LayerStore(std::string root) : root_(std::move(root)) {}
  const std::string& root() const { return root_; }

  // Fetches `reference` (host:port/repository:tag on a loopback registry) with skopeo
  // into the store's layout, verifies each layer against its digest and unpacks the ones
  // not yet unpacked. Pulls of one store are serialised by a lock file.
  Result<PulledImage> Pull(const std::string& reference);
  // Verifies and unpacks the image named `name` in an OCI layout that is already on disk
  // (the layout a Pull filled): what Pull does after the fetch.
  Result<PulledImage> Unpack(const std::string& layout, const std::string& name);

  // Removes every blob and unpacked layer no live PulledImage holds: afterwards a Pull
  // is cold. Returns how many layers were removed.
  Result<int> Evict();
  // Removes the layers beyond the `keep` most recently used that no live PulledImage
  // holds, and what an interrupted unpack left. Every Pull prunes to kKeepLayers.
  Result<int> Prune(int keep);
  static constexpr int kKeepLayers = 16;
  // Bytes on disk: the blobs, and the unpacked layers.
  struct Usage {
    uint64_t blob_bytes = 0;
    uint64_t unpacked_bytes = 0;
    int layers = 0;
  };
  Result<Usage> DiskUsage() const;

 private:
  Result<Fd> Lock() const;
  Result<int> PruneLocked(int keep);
  std::string root_;
};

// What the files under some directories occupy, each inode counted once however many
// of the directories hold it: blocks on disk, and pages in the page cache (mincore(2) of
// each regular file, which does not fault any in).
struct TreeUsage {
  uint64_t disk_bytes = 0;
  uint64_t cached_bytes = 0;
  uint64_t files = 0;
};
Result<TreeUsage> MeasureTrees(const std::vector<std::string>& dirs);

// "oci:<dir>:<name>"'s <name> for a reference: "isobench-guest_ab12".
std::string LayoutNameOf(const std::string& reference);

}  // namespace isobench::harness
