// A size-limited disk for an upper layer on the host's disk: an ext4 image of exactly
// the instance's disk_bytes, attached to a loop device (direct I/O when the backing
// file system allows it) and mounted in the host's mount namespace. A guest that fills
// it gets ENOSPC at disk_bytes instead of filling the host's file system (Docker's
// overlay2 can only do this on XFS with project quotas; devicemapper and Kata use a
// block device, as here).
//
//   ISO_ASSIGN_OR_RETURN(harness::Mount disk,
//                        MountLoopDisk(dir + "/disk.img", 64 << 20, dir + "/disk", label));
//   ...                  // upper and work directories under dir + "/disk"
//   disk.Unmount();      // the loop device detaches itself (LO_FLAGS_AUTOCLEAR)
//
// Nothing outlives the mount: the loop device is configured with autoclear and its
// descriptor closed once mounted, so unmounting (or the death of the harness before
// the mount) frees it. A crashed run leaves only the mount, which the container
// backend's ReclaimStale() finds under the run's directory and detaches. The loop
// device's file name is `label`, so `losetup -l` says whose it is.
#pragma once

#include <cstdint>
#include <string>

#include "harness/error.h"
#include "harness/mount.h"

namespace isobench::container {

// Smallest disk_bytes an ext4 upper accepts (mke2fs needs room for its metadata).
constexpr uint64_t kMinLoopDiskBytes = 8ull << 20;

// Creates `image` (must not exist) of `bytes`, makes an ext4 file system on it without
// a journal or reserved blocks, attaches it to a free loop device and mounts it on
// `target` (nosuid, nodev, noatime).
harness::Result<harness::Mount> MountLoopDisk(const std::string& image, uint64_t bytes,
                                              const std::string& target, const std::string& label);

}  // namespace isobench::container
