// The one guest userland both sides run (DESIGN.md "One guest userland").
//
// BuildImage lays out busybox-static and the static agent as a directory tree (the
// overlay lowerdir of every container) and packs the same tree as a newc initramfs
// that a VM boots with the host's guest kernel. Images are content-addressed under
// <workdir>/images/<hash>/ and reused while their inputs are unchanged. Each build of
// the agent makes a new hash, so the cache is pruned: besides the image asked for, the
// kKeepImages most recently used ones stay, and an image some process still holds (a
// GuestImage alive anywhere: a shared flock on its .complete file) is never removed.
//
//   ImageOptions options;
//   options.workdir = "/var/lib/isobench";
//   options.agent_binary = "/path/to/isobench-agent";
//   ISO_ASSIGN_OR_RETURN(GuestImage image, BuildImage(options));
//   // image.rootfs, image.initramfs, image.kernel
//
// The same builder makes the L1 host of the nested KVM job (ci/nested_kvm.sh): a VM
// whose /init is a shell script that mounts the host's root over virtio-9p under a
// writable tmpfs overlay, loads kvm, and runs a command there (ImageKind::kL1Host).
//
//   ISO_ASSIGN_OR_RETURN(GuestImage l1, BuildImage(L1HostImageOptions("/var/lib/isobench")));
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "harness/error.h"
#include "harness/fd.h"

namespace isobench::harness {

struct GuestImage {
  std::string hash;
  std::string dir;                   // <workdir>/images/<hash>
  std::string rootfs;                // directory tree: overlay lowerdir
  std::string initramfs;             // newc cpio of rootfs (empty when not built)
  std::string kernel;                // copy of the guest kernel, readable by qemu (empty if none)
  std::string kernel_release;        // e.g. "6.1.0-56-amd64"
  std::string kernel_source;         // the kernel file the copy was made from
  bool kernel_monolithic = false;    // built without modules (the minimal kernel)
  std::vector<std::string> modules;  // module names loaded by the agent in a VM
  static constexpr const char* kAgentPath = "/sbin/isobench-agent";  // inside the image
  // A shared flock on <dir>/.complete while any copy lives: keeps the cache pruning of
  // other processes (and of this one) away from an image in use. Null when the image
  // was not made by BuildImage.
  std::shared_ptr<const Fd> in_use;
};

// Other images the cache keeps beside the one being built or reused.
constexpr int kKeepImages = 3;

// What the image's /init is.
enum class ImageKind {
  kGuest,   // the agent: every benchmark and conformance guest
  kL1Host,  // kL1HostInit: a nested KVM host running the host's own root file system
};

struct ImageOptions {
  ImageKind kind = ImageKind::kGuest;
  std::string workdir = "/var/lib/isobench";
  std::string agent_binary;              // required: a static executable
  std::string busybox = "/bin/busybox";  // Debian's busybox-static
  // Guest kernel: empty = the newest /boot/vmlinuz-*; "minimal" = the kernel built by
  // vm/kernel/build.sh under <workdir>/kernels/minimal; anything else is a path. With
  // `want_vm` false no kernel is needed.
  std::string kernel;
  bool want_vm = true;
  // Kernel modules (by name, e.g. "virtio_blk") carried in the initramfs under
  // /lib/modules and loaded by the agent at boot, with their dependencies, because
  // Debian's kernel builds virtio drivers as modules. Ignored for a kernel built
  // without module support, which has them built in.
  std::vector<std::string> modules;
  // Host executables copied in together with the shared libraries they need (fio).
  std::vector<std::string> extra_binaries;
};

Result<GuestImage> BuildImage(const ImageOptions& options);

// The L1 host image: Debian's kernel (the newest /boot/vmlinuz-*), the modules that give
// it virtio-9p, overlayfs and KVM (kvm_amd or kvm_intel, whichever the emulated CPU
// offers), and kL1HostInit as /init.
ImageOptions L1HostImageOptions(const std::string& workdir);

// The L1 host's /init (a busybox sh script). Its contract with the VM that runs it:
//   - virtio-9p tag `root`: the host's / (read-only); tag `out`: a writable directory,
//     mounted at /isobench-l1 inside the new root; virtio_blk and ext4 are loaded for
//     the command's use (a scratch disk);
//   - it mounts the overlay of a tmpfs over `root`, /proc, /sys, /dev, cgroup2 on
//     /sys/fs/cgroup, tmpfs on /run and /tmp, gives /dev/kvm to group kvm (mode 0660:
//     there is no udev), then runs `/bin/sh /isobench-l1/run` chrooted there;
//   - the command's exit status lands in /isobench-l1/exit-status, then the VM powers
//     off. A failure of init itself lands there too, as "init: <reason>".
extern const char* const kL1HostInit;

// Packs directory trees as one newc initramfs at `out`, with /dev/console: `layers` top
// first (overlayfs's lowerdir order), each above the next, so that a path in an upper
// layer replaces the lower one's. An upper layer that deletes (an overlay whiteout or
// opaque directory) is refused: the kernel's unpacker can only add and replace.
Result<void> WriteInitramfs(const std::vector<std::string>& layers, const std::string& out);

// The newest /boot/vmlinuz-<release>; error naming what is missing otherwise.
Result<std::string> FindHostGuestKernel();

// The kernel file `requested` names (see ImageOptions::kernel), or an error naming
// what is missing and how to make it.
Result<std::string> ResolveGuestKernel(const std::string& workdir, const std::string& requested);

// Whether the kernel at `kernel_path` was built without loadable modules, as told by
// the `config` file vm/kernel/build.sh leaves beside it.
bool KernelIsMonolithic(const std::string& kernel_path);

}  // namespace isobench::harness

namespace isobench::harness {
// The agent binary to put in images: $ISOBENCH_AGENT, else the one this build made.
std::string DefaultAgentPath();
}  // namespace isobench::harness
