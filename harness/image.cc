#include "harness/image.h"

#include <archive.h>
#include <archive_entry.h>
#include <elf.h>
#include <fcntl.h>
#include <glob.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "harness/child_process.h"
#include "harness/fd.h"
#include "harness/log.h"

namespace isobench::harness {
namespace {

// Bump when the layout changes so cached images are rebuilt.
constexpr const char* kLayoutVersion = "isobench-image-v1";

class Fnv64 {
 public:
  void Add(std::string_view bytes) {
    for (unsigned char c : bytes) {
      hash_ ^= c;
      hash_ *= 0x100000001b3ull;
    }
    // Length-delimited so ("ab","c") and ("a","bc") differ.
    uint64_t n = bytes.size();
    for (int i = 0; i < 8; ++i) {
      hash_ ^= (n >> (8 * i)) & 0xff;
      hash_ *= 0x100000001b3ull;
    }
  }
  std::string Hex() const {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(hash_));
    return buf;
  }

 private:
  uint64_t hash_ = 0xcbf29ce484222325ull;
};

bool IsExecutableFile(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111);
}

// A static executable has no PT_INTERP program header.
Result<void> CheckStaticElf(const std::string& path, const std::string& bytes) {
  if (bytes.size() < sizeof(Elf64_Ehdr) || std::memcmp(bytes.data(), ELFMAG, SELFMAG) != 0 ||
      bytes[EI_CLASS] != ELFCLASS64)
    return Error("`" + path + "` is not a 64-bit ELF executable", ENOEXEC);
  Elf64_Ehdr eh;
  std::memcpy(&eh, bytes.data(), sizeof eh);
  for (int i = 0; i < eh.e_phnum; ++i) {
    size_t off = eh.e_phoff + static_cast<size_t>(i) * eh.e_phentsize;
    if (off + sizeof(Elf64_Phdr) > bytes.size()) break;
    Elf64_Phdr ph;
    std::memcpy(&ph, bytes.data() + off, sizeof ph);
    if (ph.p_type == PT_INTERP)
      return Error("`" + path + "` is dynamically linked; the guest has no libc to run it",
                   ENOEXEC);
  }
  return {};
}

Result<void> CopyFile(const std::string& from, const std::string& to, int mode) {
  ISO_ASSIGN_OR_RETURN(std::string bytes, ReadFile(from));
  return WriteWholeFile(to, bytes, mode);
}

Result<void> Symlink(const std::string& target, const std::string& link) {
  if (::symlink(target.c_str(), link.c_str()) != 0 && errno != EEXIST)
    return Error::Errno("symlink", link + " -> " + target);
  return {};
}

std::string ParentDir(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos || slash == 0 ? "/" : path.substr(0, slash);
}

std::string KernelReleaseOf(const std::string& kernel_path) {
  std::string base = kernel_path.substr(kernel_path.rfind('/') + 1);
  if (base.rfind("vmlinuz-", 0) == 0) return base.substr(8);
  return {};
}

std::string ModuleName(std::string path) {
  path = path.substr(path.rfind('/') + 1);
  if (path.size() > 3 && path.compare(path.size() - 3, 3, ".ko") == 0) path.resize(path.size() - 3);
  std::replace(path.begin(), path.end(), '-', '_');
  return path;
}

// Module paths (relative to /lib/modules/<release>), dependencies first.
Result<std::vector<std::string>> ResolveModules(const std::string& release,
                                                const std::vector<std::string>& names) {
  std::string dep_file = "/lib/modules/" + release + "/modules.dep";
  ISO_ASSIGN_OR_RETURN(std::string deps_text,
                       ReadFile(dep_file).Context("resolving guest kernel modules"));
  std::map<std::string, std::pair<std::string, std::vector<std::string>>> table;
  std::istringstream in(deps_text);
  std::string line;
  while (std::getline(in, line)) {
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string path = line.substr(0, colon);
    std::istringstream rest(line.substr(colon + 1));
    std::vector<std::string> deps;
    std::string d;
    while (rest >> d) deps.push_back(d);
    table[ModuleName(path)] = {path, deps};
  }
  std::vector<std::string> ordered;
  std::set<std::string> seen;
  for (const auto& raw : names) {
    std::string name = raw;
    std::replace(name.begin(), name.end(), '-', '_');
    auto it = table.find(name);
    if (it == table.end()) {
      // Built into the kernel (listed in modules.builtin): nothing to load.
      ISO_ASSIGN_OR_RETURN(std::string builtin,
                           ReadFile("/lib/modules/" + release + "/modules.builtin"));
      std::string wanted = "/" + name + ".ko";
      std::string wanted_dash = wanted;
      std::replace(wanted_dash.begin(), wanted_dash.end(), '_', '-');
      if (builtin.find(wanted) != std::string::npos ||
          builtin.find(wanted_dash) != std::string::npos)
        continue;
      return Error("kernel module `" + raw + "` not found in `" + dep_file + "`", ENOENT);
    }
    // modules.dep lists the full transitive closure; load the deepest first.
    const auto& deps = it->second.second;
    for (auto d = deps.rbegin(); d != deps.rend(); ++d)
      if (seen.insert(*d).second) ordered.push_back(*d);
    if (seen.insert(it->second.first).second) ordered.push_back(it->second.first);
  }
  return ordered;
}

// Shared libraries (and the loader) a dynamically linked host binary needs.
Result<std::vector<std::string>> SharedLibrariesOf(const std::string& binary) {
  ISO_ASSIGN_OR_RETURN(std::string out, RunCapture({"/usr/bin/ldd", binary}));
  std::vector<std::string> libs;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    size_t arrow = line.find("=> ");
    std::string path;
    if (arrow != std::string::npos) {
      path = line.substr(arrow + 3);
    } else {
      path = line.substr(line.find_first_not_of(" \t"));
    }
    path = path.substr(0, path.find(' '));
    if (!path.empty() && path[0] == '/') libs.push_back(path);
  }
  return libs;
}

struct ArchiveCloser {
  void operator()(struct archive* a) const { archive_write_free(a); }
};

Result<void> WriteEntry(struct archive* a, const std::string& name, const struct stat& st,
                        const std::string& symlink_target, const std::string& data) {
  struct archive_entry* entry = archive_entry_new();
  archive_entry_copy_stat(entry, &st);
  archive_entry_set_pathname(entry, name.c_str());
  archive_entry_set_uid(entry, 0);
  archive_entry_set_gid(entry, 0);
  if (S_ISLNK(st.st_mode)) archive_entry_set_symlink(entry, symlink_target.c_str());
  if (!S_ISREG(st.st_mode)) archive_entry_set_size(entry, 0);
  int r = archive_write_header(a, entry);
  if (r == ARCHIVE_OK && S_ISREG(st.st_mode) && !data.empty() &&
      archive_write_data(a, data.data(), data.size()) < 0)
    r = ARCHIVE_FATAL;
  archive_entry_free(entry);
  if (r != ARCHIVE_OK)
    return Error(std::string("cpio: writing `") + name + "`: " + archive_error_string(a), EIO);
  return {};
}

// An overlayfs whiteout or opaque directory (a layer's deletion, in a VM's image from
// registry layers) is refused: an initramfs can only add and replace.
Result<void> AddTree(struct archive* a, const std::string& root, const std::string& rel) {
  // Sorted: reproducible archives.
  ISO_ASSIGN_OR_RETURN(std::vector<std::string> names,
                       ListDir(rel.empty() ? root : root + "/" + rel));
  for (const auto& n : names) {
    std::string child_rel = rel.empty() ? n : rel + "/" + n;
    std::string full = root + "/" + child_rel;
    struct stat st;
    if (::lstat(full.c_str(), &st) != 0) return Error::Errno("stat", full);
    char opaque[2] = {};
    if ((S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) ||
        (S_ISDIR(st.st_mode) &&
         ::lgetxattr(full.c_str(), "trusted.overlay.opaque", opaque, 1) == 1 && opaque[0] == 'y'))
      return Error("`" + root + "` deletes `/" + child_rel +
                       "` (an overlay whiteout or opaque directory): an initramfs can only add "
                       "and replace, so a VM cannot boot these layers",
                   EINVAL);
    std::string target, data;
    if (S_ISLNK(st.st_mode)) {
      char buf[4096];
      ssize_t len = ::readlink(full.c_str(), buf, sizeof buf - 1);
      if (len < 0) return Error::Errno("readlink", full);
      target.assign(buf, static_cast<size_t>(len));
    } else if (S_ISREG(st.st_mode)) {
      ISO_ASSIGN_OR_RETURN(data, ReadFile(full));
    }
    ISO_RETURN_IF_ERROR(WriteEntry(a, child_rel, st, target, data));
    if (S_ISDIR(st.st_mode)) ISO_RETURN_IF_ERROR(AddTree(a, root, child_rel));
  }
  return {};
}

}  // namespace

Result<void> WriteInitramfs(const std::vector<std::string>& layers, const std::string& out) {
  if (layers.empty()) return Error("cpio: no tree to pack into `" + out + "`", EINVAL);
  std::unique_ptr<struct archive, ArchiveCloser> a(archive_write_new());
  archive_write_set_format_cpio_newc(a.get());
  if (archive_write_open_filename(a.get(), out.c_str()) != ARCHIVE_OK)
    return Error(std::string("cpio: open `") + out + "`: " + archive_error_string(a.get()), EIO);
  // The bottom layer first: the kernel unpacks in order and a later entry of a path
  // replaces an earlier one (a directory's entry again is harmless).
  for (auto layer = layers.rbegin(); layer != layers.rend(); ++layer)
    ISO_RETURN_IF_ERROR(AddTree(a.get(), *layer, ""));
  // The kernel opens /dev/console for init's stdio before any devtmpfs exists, so the
  // node must be in the archive itself.
  struct stat console = {};
  console.st_mode = S_IFCHR | 0600;
  console.st_rdev = makedev(5, 1);
  console.st_nlink = 1;
  ISO_RETURN_IF_ERROR(WriteEntry(a.get(), "dev/console", console, "", ""));
  if (archive_write_close(a.get()) != ARCHIVE_OK)
    return Error(std::string("cpio: close `") + out + "`: " + archive_error_string(a.get()), EIO);
  return {};
}

namespace {

Result<void> LayOutRootfs(const ImageOptions& options, const std::string& rootfs,
                          const std::string& agent_bytes, const std::string& kernel_release,
                          const std::vector<std::string>& module_paths,
                          std::vector<std::string>* guest_module_paths) {
  for (const char* d :
       {"bin", "sbin", "etc", "etc/isobench", "proc", "sys", "dev", "tmp", "run", "root", "var",
        "var/tmp", "mnt", "usr", "usr/bin", "usr/sbin", "lib", "lib64", "work"}) {
    ISO_RETURN_IF_ERROR(MakeDirs(rootfs + "/" + d, 0755));
  }
  ::chmod((rootfs + "/tmp").c_str(), 01777);
  ISO_RETURN_IF_ERROR(CopyFile(options.busybox, rootfs + "/bin/busybox", 0755));
  ISO_ASSIGN_OR_RETURN(std::string applets, RunCapture({options.busybox, "--list-full"}));
  std::istringstream in(applets);
  std::string applet;
  while (std::getline(in, applet)) {
    if (applet.empty() || applet == "bin/busybox" || applet.find("..") != std::string::npos)
      continue;
    ISO_RETURN_IF_ERROR(MakeDirs(rootfs + "/" + ParentDir(applet), 0755));
    ISO_RETURN_IF_ERROR(Symlink("/bin/busybox", rootfs + "/" + applet));
  }
  ISO_RETURN_IF_ERROR(WriteWholeFile(rootfs + GuestImage::kAgentPath, agent_bytes, 0755));
  if (options.kind == ImageKind::kL1Host) {
    ISO_RETURN_IF_ERROR(WriteWholeFile(rootfs + "/init", kL1HostInit, 0755));
  } else {
    ISO_RETURN_IF_ERROR(Symlink(GuestImage::kAgentPath, rootfs + "/init"));
  }
  ISO_RETURN_IF_ERROR(WriteWholeFile(rootfs + "/etc/passwd",
                                     "root:x:0:0:root:/root:/bin/sh\n"
                                     "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"));
  ISO_RETURN_IF_ERROR(WriteWholeFile(rootfs + "/etc/group", "root:x:0:\nnogroup:x:65534:\n"));
  ISO_RETURN_IF_ERROR(WriteWholeFile(rootfs + "/etc/hostname", "isobench\n"));
  std::string module_list;
  for (const auto& rel : module_paths) {
    std::string guest = "/lib/modules/" + kernel_release + "/" + rel;
    ISO_RETURN_IF_ERROR(MakeDirs(rootfs + ParentDir(guest), 0755));
    ISO_RETURN_IF_ERROR(
        CopyFile("/lib/modules/" + kernel_release + "/" + rel, rootfs + guest, 0644));
    module_list += guest + "\n";
    guest_module_paths->push_back(guest);
  }
  ISO_RETURN_IF_ERROR(WriteWholeFile(rootfs + "/etc/isobench/modules", module_list));
  for (const auto& binary : options.extra_binaries) {
    ISO_RETURN_IF_ERROR(MakeDirs(rootfs + ParentDir(binary), 0755));
    ISO_RETURN_IF_ERROR(CopyFile(binary, rootfs + binary, 0755));
    ISO_ASSIGN_OR_RETURN(auto libs, SharedLibrariesOf(binary));
    for (const auto& lib : libs) {
      ISO_RETURN_IF_ERROR(MakeDirs(rootfs + ParentDir(lib), 0755));
      ISO_RETURN_IF_ERROR(CopyFile(lib, rootfs + lib, 0755));
    }
  }
  return {};
}

}  // namespace

// Busybox sh, run as PID 1 of the L1 host. Everything it prints goes to the console
// (ttyS0), which ci/nested_kvm.sh keeps with host timestamps; lines start with
// "isobench-l1:" so the host can time the phases.
const char* const kL1HostInit = R"INIT(#!/bin/sh
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo "isobench-l1: init started"
out_ok=0
fail() {
  echo "isobench-l1: init: $*"
  [ "$out_ok" = 1 ] && echo "init: $*" > /out/exit-status
  sync
  poweroff -f
  exit 1
}
# Dependencies come first in the list. Only the KVM module the emulated CPU can run is
# loaded: the other one refuses with an error that would only confuse the log. As
# modprobe does, `<module>.<param>=<value>` on the kernel command line is passed on.
while read -r m; do
  [ -n "$m" ] || continue
  case "$m" in
    */kvm-intel.ko) grep -qw vmx /proc/cpuinfo || continue ;;
    */kvm-amd.ko) grep -qw svm /proc/cpuinfo || continue ;;
  esac
  name=$(basename "$m" .ko | tr - _)
  params=$(tr ' ' '\n' < /proc/cmdline | sed -n "s/^$name\\.//p")
  [ -n "$params" ] && echo "isobench-l1: $name" $params
  insmod "$m" $params || echo "isobench-l1: insmod $m failed"
done < /etc/isobench/modules
mkdir -p /out /host /rw /newroot
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 out /out || fail "no 9p share 'out'"
out_ok=1
# The host's root is read-only and nobody changes it under us: cache it.
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=loose,ro root /host ||
  fail "no 9p share 'root'"
mount -t tmpfs -o mode=0755 rw /rw || fail "tmpfs"
mkdir -p /rw/upper /rw/work
mount -t overlay -o lowerdir=/host,upperdir=/rw/upper,workdir=/rw/work overlay /newroot ||
  fail "overlay of tmpfs over the host root"
R=/newroot
mount -t proc proc $R/proc
mount -t sysfs sysfs $R/sys
mount -t devtmpfs devtmpfs $R/dev
mkdir -p $R/dev/pts $R/dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts $R/dev/pts
mount -t tmpfs -o mode=1777 tmpfs $R/dev/shm
mount -t cgroup2 cgroup2 $R/sys/fs/cgroup || fail "cgroup2"
mount -t tmpfs -o mode=0755 tmpfs $R/run
# /tmp stays the host's under the overlay (writable through it): a checkout or build
# there must be visible in L1, as everywhere else.
mkdir -p $R/isobench-l1
mount --bind /out $R/isobench-l1 || fail "bind of the out share"
hostname isobench-l1
ip link set lo up
# No udev: /dev/kvm is root-only, and libvirt runs qemu as a member of group kvm.
if [ -c $R/dev/kvm ]; then
  chroot $R chgrp kvm /dev/kvm && chmod 0660 $R/dev/kvm
fi
echo "isobench-l1: running /isobench-l1/run"
chroot $R /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  HOME=/root TERM=dumb LANG=C.UTF-8 /bin/sh /isobench-l1/run
echo "$?" > /out/exit-status
echo "isobench-l1: done, exit status $(cat /out/exit-status)"
sync
poweroff -f
exit 1
)INIT";

ImageOptions L1HostImageOptions(const std::string& workdir) {
  ImageOptions options;
  options.kind = ImageKind::kL1Host;
  options.workdir = workdir;
  options.agent_binary = DefaultAgentPath();
  options.kernel = "";  // Debian's: the minimal kernel has neither modules nor KVM
  options.want_vm = true;
  // virtio_blk + ext4: a scratch disk for guest disks, which qemu opens with O_DIRECT
  // (cache=none), which tmpfs refuses. ext4 needs a crc32c driver, a soft dependency
  // modules.dep does not list.
  options.modules = {"virtio_pci",     "9pnet_virtio", "9p",      "overlay",  "virtio_blk",
                     "crc32c_generic", "ext4",         "kvm_amd", "kvm_intel"};
  return options;
}

std::string DefaultAgentPath() {
  if (const char* env = std::getenv("ISOBENCH_AGENT"); env && *env) return env;
#ifdef ISOBENCH_DEFAULT_AGENT
  return ISOBENCH_DEFAULT_AGENT;
#else
  return "/usr/libexec/isobench/isobench-agent";
#endif
}

Result<std::string> FindHostGuestKernel() {
  glob_t g;
  int r = ::glob("/boot/vmlinuz-*", 0, nullptr, &g);
  std::vector<std::string> found;
  if (r == 0)
    for (size_t i = 0; i < g.gl_pathc; ++i) found.push_back(g.gl_pathv[i]);
  ::globfree(&g);
  if (found.empty())
    return Error("no guest kernel: /boot/vmlinuz-* not found (install linux-image-amd64)", ENOENT);
  // Version-aware ordering: the newest release sorts last.
  std::sort(found.begin(), found.end(), [](const std::string& a, const std::string& b) {
    return ::strverscmp(a.c_str(), b.c_str()) < 0;
  });
  return found.back();
}

Result<std::string> ResolveGuestKernel(const std::string& workdir, const std::string& requested) {
  if (requested.empty()) return FindHostGuestKernel();
  if (requested == "minimal") {
    std::string pattern = workdir + "/kernels/minimal/vmlinuz-*";
    glob_t g;
    std::string found;
    if (::glob(pattern.c_str(), 0, nullptr, &g) == 0 && g.gl_pathc == 1) found = g.gl_pathv[0];
    ::globfree(&g);
    if (found.empty())
      return Error("the minimal guest kernel is not built (no `" + pattern +
                       "`): run `bash vm/kernel/build.sh --workdir " + workdir +
                       "` (about 9 minutes on 2 cores)",
                   ENOENT);
    return found;
  }
  if (::access(requested.c_str(), R_OK) != 0)
    return Error::Errno("access", requested).Context("guest kernel");
  return requested;
}

bool KernelIsMonolithic(const std::string& kernel_path) {
  auto config = ReadFile(ParentDir(kernel_path) + "/config");
  return config.ok() && config->find("\n# CONFIG_MODULES is not set\n") != std::string::npos;
}

namespace {

// Holds `image` in use: a shared flock on its .complete file, whose mtime says when it
// was last used. Called with the cache's exclusive lock held, so no prune runs between
// the check that the image is complete and this.
Result<void> HoldImage(GuestImage& image) {
  std::string complete = image.dir + "/.complete";
  ISO_ASSIGN_OR_RETURN(Fd fd, Open(complete, O_RDONLY));
  if (::flock(fd.get(), LOCK_SH) != 0) return Error::Errno("flock", complete);
  ::futimens(fd.get(), nullptr);  // last used: now
  image.in_use = std::make_shared<const Fd>(std::move(fd));
  return {};
}

// Removes cached images other than `keep`: leftovers of interrupted builds, and complete
// images beyond the kKeepImages most recently used that nobody holds. Called with the
// cache's exclusive lock held.
void PruneImages(const std::string& images_dir, const std::string& keep) {
  struct Candidate {
    std::string dir;
    struct timespec used;
  };
  std::vector<Candidate> complete;
  auto listed = ListDir(images_dir);
  if (!listed.ok()) return;
  int removed = 0;
  for (const auto& name : *listed) {
    std::string dir = images_dir + "/" + name;
    struct stat st;
    if (name == keep || name[0] == '.' || ::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
      continue;
    if (::stat((dir + "/.complete").c_str(), &st) != 0) {
      // An interrupted build (<hash>.tmp, or a directory without .complete): builds run
      // under the lock we hold, so nobody is writing it.
      if (RemoveTree(dir).ok()) ++removed;
      continue;
    }
    complete.push_back({dir, st.st_mtim});
  }
  std::sort(complete.begin(), complete.end(), [](const Candidate& a, const Candidate& b) {
    return a.used.tv_sec != b.used.tv_sec ? a.used.tv_sec > b.used.tv_sec
                                          : a.used.tv_nsec > b.used.tv_nsec;
  });
  for (size_t i = kKeepImages; i < complete.size(); ++i) {
    auto fd = Open(complete[i].dir + "/.complete", O_RDONLY);
    if (!fd.ok()) continue;
    if (::flock(fd->get(), LOCK_EX | LOCK_NB) != 0) continue;  // in use
    if (RemoveTree(complete[i].dir).ok()) ++removed;
  }
  if (removed > 0)
    ISO_LOG(kInfo) << "pruned " << removed << " old guest image(s) in " << images_dir;
}

}  // namespace

Result<GuestImage> BuildImage(const ImageOptions& options) {
  if (options.agent_binary.empty()) return Error("image: no agent binary given", EINVAL);
  if (!IsExecutableFile(options.agent_binary))
    return Error("image: agent `" + options.agent_binary + "` is missing or not executable",
                 ENOENT);
  if (!IsExecutableFile(options.busybox))
    return Error("image: busybox `" + options.busybox + "` is missing (install busybox-static)",
                 ENOENT);
  ISO_ASSIGN_OR_RETURN(std::string agent_bytes, ReadFile(options.agent_binary));
  ISO_RETURN_IF_ERROR(CheckStaticElf(options.agent_binary, agent_bytes).Context("image"));
  ISO_ASSIGN_OR_RETURN(std::string busybox_bytes, ReadFile(options.busybox));
  ISO_RETURN_IF_ERROR(CheckStaticElf(options.busybox, busybox_bytes).Context("image"));

  std::string kernel_path, kernel_release, kernel_bytes;
  std::vector<std::string> module_paths;
  bool monolithic = false;
  if (options.want_vm) {
    ISO_ASSIGN_OR_RETURN(kernel_path,
                         ResolveGuestKernel(options.workdir, options.kernel).Context("image"));
    ISO_ASSIGN_OR_RETURN(kernel_bytes, ReadFile(kernel_path).Context("image: guest kernel"));
    kernel_release = KernelReleaseOf(kernel_path);
    monolithic = KernelIsMonolithic(kernel_path);
    if (!options.modules.empty() && !monolithic) {
      if (kernel_release.empty())
        return Error("image: cannot tell the release of kernel `" + kernel_path +
                         "` to find its modules (name it vmlinuz-<release>)",
                     EINVAL);
      ISO_ASSIGN_OR_RETURN(module_paths, ResolveModules(kernel_release, options.modules));
    }
  }
  for (const auto& b : options.extra_binaries)
    if (!IsExecutableFile(b)) return Error("image: extra binary `" + b + "` is missing", ENOENT);

  Fnv64 hash;
  hash.Add(kLayoutVersion);
  if (options.kind == ImageKind::kL1Host) hash.Add(kL1HostInit);
  hash.Add(agent_bytes);
  hash.Add(busybox_bytes);
  hash.Add(kernel_bytes);
  for (const auto& m : module_paths) hash.Add(m);
  for (const auto& b : options.extra_binaries) {
    hash.Add(b);
    ISO_ASSIGN_OR_RETURN(std::string bytes, ReadFile(b));
    hash.Add(bytes);
  }

  GuestImage image;
  image.hash = hash.Hex();
  std::string images_dir = options.workdir + "/images";
  image.dir = images_dir + "/" + image.hash;
  image.rootfs = image.dir + "/rootfs";
  image.kernel_release = kernel_release;
  image.kernel_source = kernel_path;
  image.kernel_monolithic = monolithic;
  if (options.want_vm) {
    image.initramfs = image.dir + "/initramfs.cpio";
    image.kernel = image.dir + "/vmlinuz";
  }
  for (const auto& m : module_paths)
    image.modules.push_back("/lib/modules/" + kernel_release + "/" + m);

  ISO_RETURN_IF_ERROR(MakeDirs(images_dir, 0755));
  ::chmod(options.workdir.c_str(), 0755);
  // Several processes (benchmarks, tests) may build the same image at once.
  ISO_ASSIGN_OR_RETURN(Fd lock, Open(images_dir + "/.lock", O_RDWR | O_CREAT, 0644));
  if (::flock(lock.get(), LOCK_EX) != 0) return Error::Errno("flock", images_dir + "/.lock");
  if (::access((image.dir + "/.complete").c_str(), F_OK) == 0) {
    ISO_RETURN_IF_ERROR(HoldImage(image).Context("guest image"));
    PruneImages(images_dir, image.hash);
    return image;
  }

  ISO_LOG(kInfo) << "building guest image " << image.hash << " in " << image.dir;
  std::string tmp = image.dir + ".tmp";
  ISO_RETURN_IF_ERROR(RemoveTree(tmp));
  ISO_RETURN_IF_ERROR(RemoveTree(image.dir));
  ISO_RETURN_IF_ERROR(MakeDirs(tmp + "/rootfs", 0755));
  std::vector<std::string> guest_modules;
  auto built = [&]() -> Result<void> {
    ISO_RETURN_IF_ERROR(LayOutRootfs(options, tmp + "/rootfs", agent_bytes, kernel_release,
                                     module_paths, &guest_modules));
    if (options.want_vm) {
      ISO_RETURN_IF_ERROR(WriteInitramfs({tmp + "/rootfs"}, tmp + "/initramfs.cpio"));
      ::chmod((tmp + "/initramfs.cpio").c_str(), 0644);
      // /boot/vmlinuz-* is root-only; qemu runs unprivileged and needs its own copy.
      ISO_RETURN_IF_ERROR(WriteWholeFile(tmp + "/vmlinuz", kernel_bytes, 0644));
    }
    nlohmann::json manifest = {{"hash", image.hash},
                               {"kind", options.kind == ImageKind::kL1Host ? "l1-host" : "guest"},
                               {"layout", kLayoutVersion},
                               {"agent", options.agent_binary},
                               {"busybox", options.busybox},
                               {"kernel", kernel_path},
                               {"kernel_release", kernel_release},
                               {"kernel_monolithic", monolithic},
                               {"modules", guest_modules},
                               {"extra_binaries", options.extra_binaries}};
    ISO_RETURN_IF_ERROR(WriteWholeFile(tmp + "/manifest.json", manifest.dump(2) + "\n"));
    ISO_RETURN_IF_ERROR(WriteWholeFile(tmp + "/.complete", ""));
    if (::rename(tmp.c_str(), image.dir.c_str()) != 0) return Error::Errno("rename", tmp);
    return {};
  }();
  if (!built.ok()) {
    (void)RemoveTree(tmp);
    return std::move(built).error().Context("building guest image");
  }
  ISO_RETURN_IF_ERROR(HoldImage(image).Context("guest image"));
  PruneImages(images_dir, image.hash);
  return image;
}

}  // namespace isobench::harness
