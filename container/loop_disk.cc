#include "container/loop_disk.h"

#include <fcntl.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cstring>

#include "harness/child_process.h"
#include "harness/fd.h"

namespace isobench::container {
namespace {

using harness::Error;
using harness::Fd;
using harness::Result;

constexpr const char* kMke2fs = "/usr/sbin/mke2fs";

// Attaches `backing` to a free loop device and returns the device's descriptor.
// LOOP_CTL_GET_FREE and LOOP_CONFIGURE are two steps, so another process can take the
// device in between (EBUSY): ask again.
Result<std::pair<Fd, std::string>> AttachLoop(int backing, const std::string& label) {
  Fd control(::open("/dev/loop-control", O_RDWR | O_CLOEXEC));
  if (!control.valid()) return Error::Errno("open", "/dev/loop-control");
  for (int attempt = 0; attempt < 16; ++attempt) {
    int n = ::ioctl(control.get(), LOOP_CTL_GET_FREE);
    if (n < 0) return Error::Errno("ioctl LOOP_CTL_GET_FREE", "/dev/loop-control");
    std::string device = "/dev/loop" + std::to_string(n);
    Fd loop(::open(device.c_str(), O_RDWR | O_CLOEXEC));
    if (!loop.valid()) return Error::Errno("open", device);
    struct loop_config config;
    std::memset(&config, 0, sizeof config);
    config.fd = static_cast<uint32_t>(backing);
    config.info.lo_flags = LO_FLAGS_AUTOCLEAR | LO_FLAGS_DIRECT_IO;
    std::strncpy(reinterpret_cast<char*>(config.info.lo_file_name), label.c_str(),
                 LO_NAME_SIZE - 1);
    if (::ioctl(loop.get(), LOOP_CONFIGURE, &config) == 0)
      return std::make_pair(std::move(loop), device);
    if (errno == EBUSY) continue;
    if (errno == EINVAL) {
      // The backing file system refuses O_DIRECT: buffered I/O through the page cache.
      config.info.lo_flags &= ~static_cast<uint32_t>(LO_FLAGS_DIRECT_IO);
      if (::ioctl(loop.get(), LOOP_CONFIGURE, &config) == 0)
        return std::make_pair(std::move(loop), device);
      if (errno == EBUSY) continue;
    }
    return Error::Errno("ioctl LOOP_CONFIGURE", device);
  }
  return Error("no free loop device after 16 attempts (others kept taking them)", EBUSY);
}

}  // namespace

Result<harness::Mount> MountLoopDisk(const std::string& image, uint64_t bytes,
                                     const std::string& target, const std::string& label) {
  if (bytes < kMinLoopDiskBytes)
    return Error("disk_bytes " + std::to_string(bytes) + " is below the " +
                     std::to_string(kMinLoopDiskBytes >> 20) + " MiB an ext4 upper layer needs",
                 EINVAL);
  if (::access(kMke2fs, X_OK) != 0)
    return Error::Errno("access", kMke2fs)
        .Context("a size-limited upper layer needs mke2fs (apt-get install e2fsprogs)");
  {
    Fd file(::open(image.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!file.valid()) return Error::Errno("create", image);
    if (::ftruncate(file.get(), static_cast<off_t>(bytes)) != 0)
      return Error::Errno("ftruncate", image);
  }
  // No journal (scratch space: nothing to recover after a crash), no blocks reserved
  // for root, inode tables written now rather than by ext4lazyinit during a benchmark,
  // 4 KiB blocks whatever the size.
  ISO_RETURN_IF_ERROR(
      harness::RunCapture({kMke2fs, "-q", "-F", "-t", "ext4", "-b", "4096", "-O", "^has_journal",
                           "-m", "0", "-E", "lazy_itable_init=0,nodiscard", image},
                          std::chrono::seconds(60))
          .Context("mke2fs " + image));
  Fd backing(::open(image.c_str(), O_RDWR | O_CLOEXEC));
  if (!backing.valid()) return Error::Errno("open", image);
  ISO_ASSIGN_OR_RETURN(auto loop, AttachLoop(backing.get(), label));
  ISO_ASSIGN_OR_RETURN(
      harness::Mount mount,
      harness::Mount::Create(loop.second, target, "ext4", MS_NOSUID | MS_NODEV | MS_NOATIME));
  // From here the mount holds the device; closing our descriptor lets autoclear detach
  // it when the mount goes.
  return mount;
}

}  // namespace isobench::container
