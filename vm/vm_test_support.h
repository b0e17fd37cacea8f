// Shared set-up for the vm tests: whether libvirt answers, a guest image built once per
// test binary, and what is left of a run after it ended.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "harness/error.h"
#include "harness/image.h"

namespace isobench::vm::testing {

// nullopt when `uri` answers; otherwise why not (for GTEST_SKIP).
std::optional<std::string> LibvirtUnreachable(const std::string& uri);

// A VM image (kernel + initramfs with this build's agent) under a cached test workdir
// (/var/tmp/isobench-vm-test, reused across runs by content hash).
// `modules`: guest kernel modules the agent loads at boot (e.g. virtio_blk for a disk).
// `kernel`: a path; empty for the host's newest /boot/vmlinuz-*.
harness::Result<harness::GuestImage> BuildTestImage(const std::vector<std::string>& modules = {},
                                                    const std::string& kernel = "");
inline constexpr const char* kTestWorkdir = "/var/tmp/isobench-vm-test";

// Names of domains at `uri` that start with `prefix`.
std::vector<std::string> DomainsWithPrefix(const std::string& uri, const std::string& prefix);

// Paths (recursively) under `dir`; empty if it does not exist.
std::vector<std::string> FilesUnder(const std::string& dir);
// Files (recursively) under `dir` but the `owner` files of run directories
// (harness::RunDirectory), which stay while their backend lives: what instances left.
std::vector<std::string> InstanceFilesUnder(const std::string& dir);

}  // namespace isobench::vm::testing
