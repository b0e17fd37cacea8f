#include "harness/layers.h"

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "harness/backend.h"
#include "harness/child_process.h"
#include "harness/registry.h"

namespace isobench::harness {

using json = nlohmann::json;

namespace {

constexpr const char* kManifestType = "application/vnd.oci.image.manifest.v1+json";
constexpr const char* kConfigType = "application/vnd.oci.image.config.v1+json";
constexpr const char* kLayerType = "application/vnd.oci.image.layer.v1.tar+gzip";
constexpr const char* kRefNameKey = "org.opencontainers.image.ref.name";

class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr); }
  ~Sha256() { EVP_MD_CTX_free(ctx_); }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Add(const void* data, size_t n) { EVP_DigestUpdate(ctx_, data, n); }
  std::string Digest() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx_, md, &len);
    std::string out = "sha256:";
    char hex[3];
    for (unsigned int i = 0; i < len; ++i) {
      std::snprintf(hex, sizeof hex, "%02x", md[i]);
      out += hex;
    }
    return out;
  }

 private:
  EVP_MD_CTX* ctx_;
};

std::string HexOf(const std::string& digest) { return digest.substr(7); }

std::string ParentOf(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
}

// The same bytes on every run: xorshift64*.
void FillPseudoRandom(uint64_t& state, char* buf, size_t n) {
  for (size_t i = 0; i < n; i += 8) {
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    uint64_t v = state * 0x2545F4914F6CDD1Dull;
    std::memcpy(buf + i, &v, std::min<size_t>(8, n - i));
  }
}

std::string ArchiveError(struct archive* a, const std::string& what) {
  const char* msg = archive_error_string(a);
  return what + ": " + (msg ? msg : "libarchive error");
}

// tar of `entries` into `tar_path`.
Result<void> WriteTar(const std::string& tar_path, const std::vector<LayerEntry>& entries) {
  struct archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  struct Closer {
    struct archive* a;
    ~Closer() { archive_write_free(a); }
  } closer{a};
  if (archive_write_open_filename(a, tar_path.c_str()) != ARCHIVE_OK)
    return Error(ArchiveError(a, "writing " + tar_path), EIO);
  std::vector<char> buf(1 << 16);
  for (const auto& e : entries) {
    struct archive_entry* entry = archive_entry_new();
    struct EntryFree {
      struct archive_entry* e;
      ~EntryFree() { archive_entry_free(e); }
    } entry_free{entry};
    std::string name = e.path.substr(1);
    archive_entry_set_uid(entry, 0);
    archive_entry_set_gid(entry, 0);
    archive_entry_set_mtime(entry, 0, 0);
    Fd source;
    uint64_t size = 0;
    if (!e.source.empty()) {
      struct stat st;
      if (::lstat(e.source.c_str(), &st) != 0) return Error::Errno("lstat", e.source);
      archive_entry_set_perm(entry, st.st_mode & 07777);
      if (S_ISDIR(st.st_mode)) {
        archive_entry_set_filetype(entry, AE_IFDIR);
        name += "/";
      } else if (S_ISLNK(st.st_mode)) {
        char target[4096];
        ssize_t n = ::readlink(e.source.c_str(), target, sizeof target - 1);
        if (n < 0) return Error::Errno("readlink", e.source);
        target[n] = 0;
        archive_entry_set_filetype(entry, AE_IFLNK);
        archive_entry_set_symlink(entry, target);
      } else if (S_ISREG(st.st_mode)) {
        archive_entry_set_filetype(entry, AE_IFREG);
        size = static_cast<uint64_t>(st.st_size);
        ISO_ASSIGN_OR_RETURN(source, Open(e.source, O_RDONLY));
      } else {
        return Error("`" + e.source + "`: only directories, symlinks and files go in a layer",
                     EINVAL);
      }
    } else if (e.generated_bytes > 0 || e.content.empty()) {
      archive_entry_set_filetype(entry, e.generated_bytes > 0 ? AE_IFREG : AE_IFDIR);
      archive_entry_set_perm(entry, e.generated_bytes > 0 ? 0644 : 0755);
      if (e.generated_bytes == 0) name += "/";
      size = e.generated_bytes;
    } else {
      archive_entry_set_filetype(entry, AE_IFREG);
      archive_entry_set_perm(entry, 0644);
      size = e.content.size();
    }
    archive_entry_set_pathname(entry, name.c_str());
    archive_entry_set_size(entry, static_cast<la_int64_t>(size));
    if (archive_write_header(a, entry) != ARCHIVE_OK)
      return Error(ArchiveError(a, "layer entry " + e.path), EIO);
    if (source.valid()) {
      for (;;) {
        ssize_t n = ::read(source.get(), buf.data(), buf.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return Error::Errno("read", e.source);
        if (n == 0) break;
        if (archive_write_data(a, buf.data(), static_cast<size_t>(n)) < 0)
          return Error(ArchiveError(a, "layer entry " + e.path), EIO);
      }
    } else if (e.generated_bytes > 0) {
      uint64_t state = 0x9E3779B97F4A7C15ull;
      for (uint64_t left = size; left > 0;) {
        size_t n = static_cast<size_t>(std::min<uint64_t>(left, buf.size()));
        FillPseudoRandom(state, buf.data(), n);
        if (archive_write_data(a, buf.data(), n) < 0)
          return Error(ArchiveError(a, "layer entry " + e.path), EIO);
        left -= n;
      }
    } else if (size > 0) {
      if (archive_write_data(a, e.content.data(), e.content.size()) < 0)
        return Error(ArchiveError(a, "layer entry " + e.path), EIO);
    }
  }
  if (archive_write_close(a) != ARCHIVE_OK)
    return Error(ArchiveError(a, "closing " + tar_path), EIO);
  return {};
}

// gzip (zlib's header: mtime 0, so the same tar gives the same blob) of `tar_path` into
// `gz_path`; the sha256 of both.
Result<LayerBlob> Gzip(const std::string& tar_path, const std::string& gz_path) {
  ISO_ASSIGN_OR_RETURN(Fd in, Open(tar_path, O_RDONLY));
  ISO_ASSIGN_OR_RETURN(Fd out, Open(gz_path, O_WRONLY | O_CREAT | O_TRUNC, 0644));
  z_stream zs{};
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return Error("zlib: deflateInit2 failed", EIO);
  struct End {
    z_stream* zs;
    ~End() { deflateEnd(zs); }
  } end{&zs};
  Sha256 tar_hash, gz_hash;
  std::vector<unsigned char> ibuf(1 << 16), obuf(1 << 16);
  LayerBlob blob;
  for (bool done = false; !done;) {
    ssize_t n = ::read(in.get(), ibuf.data(), ibuf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::Errno("read", tar_path);
    tar_hash.Add(ibuf.data(), static_cast<size_t>(n));
    zs.next_in = ibuf.data();
    zs.avail_in = static_cast<uInt>(n);
    int flush = n == 0 ? Z_FINISH : Z_NO_FLUSH;
    do {
      zs.next_out = obuf.data();
      zs.avail_out = static_cast<uInt>(obuf.size());
      int r = deflate(&zs, flush);
      if (r == Z_STREAM_ERROR) return Error("zlib: deflate failed", EIO);
      size_t have = obuf.size() - zs.avail_out;
      gz_hash.Add(obuf.data(), have);
      blob.size += have;
      ISO_RETURN_IF_ERROR(
          WriteAll(out.get(), std::string_view(reinterpret_cast<char*>(obuf.data()), have)));
      if (r == Z_STREAM_END) done = true;
    } while (zs.avail_out == 0);
  }
  blob.digest = gz_hash.Digest();
  blob.diff_id = tar_hash.Digest();
  return blob;
}

Result<std::string> WriteBlob(const std::string& layout, const std::string& bytes) {
  std::string digest = Sha256Of(bytes);
  ISO_RETURN_IF_ERROR(WriteWholeFile(layout + "/blobs/sha256/" + HexOf(digest), bytes));
  return digest;
}

struct TreeEntry {
  std::string path;  // inside the image
  struct stat st;
};

Result<void> Walk(const std::string& root, const std::string& rel, std::vector<TreeEntry>& out) {
  ISO_ASSIGN_OR_RETURN(auto names, ListDir(root + rel));
  for (const auto& name : names) {
    TreeEntry e;
    e.path = rel + "/" + name;
    if (::lstat((root + e.path).c_str(), &e.st) != 0) return Error::Errno("lstat", root + e.path);
    out.push_back(e);
    if (S_ISDIR(e.st.st_mode)) ISO_RETURN_IF_ERROR(Walk(root, e.path, out));
  }
  return {};
}

Result<json> ReadJsonBlob(const std::string& layout, const std::string& digest,
                          const std::string& what) {
  if (!ValidDigest(digest))
    return Error(what + ": `" + digest + "` is not a sha256 digest", EINVAL);
  std::string path = layout + "/blobs/sha256/" + HexOf(digest);
  ISO_ASSIGN_OR_RETURN(std::string bytes, ReadFile(path).Context(what));
  if (std::string actual = Sha256Of(bytes); actual != digest)
    return Error(what + " " + digest + ": its content hashes to " + actual + ": refused", EBADMSG);
  json j = json::parse(bytes, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return Error(what + " " + digest + " is not JSON", EBADMSG);
  return j;
}

// Where an entry of a layer goes; an error for one that would leave the layer.
Result<std::string> EntryPath(const std::string& raw, const std::string& layer) {
  std::string p = raw;
  while (p.starts_with("./")) p.erase(0, 2);
  while (p.starts_with("/")) p.erase(0, 1);
  while (p.size() > 1 && p.ends_with("/")) p.pop_back();
  size_t start = 0;
  while (start <= p.size()) {
    size_t end = p.find('/', start);
    if (end == std::string::npos) end = p.size();
    if (p.compare(start, end - start, "..") == 0)
      return Error("layer " + layer + ": entry `" + raw + "` leaves the layer", EINVAL);
    start = end + 1;
  }
  return p;
}

// Unpacks the verified blob `blob` into `dest`.
Result<void> UnpackLayer(const std::string& blob, const std::string& dest,
                         const std::string& digest) {
  struct archive* in = archive_read_new();
  archive_read_support_filter_gzip(in);
  archive_read_support_filter_none(in);
  archive_read_support_format_tar(in);
  struct archive* out = archive_write_disk_new();
  archive_write_disk_set_options(out, ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_OWNER |
                                          ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                                          ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_UNLINK);
  struct Free {
    struct archive *in, *out;
    ~Free() {
      archive_read_free(in);
      archive_write_free(out);
    }
  } free_both{in, out};
  if (archive_read_open_filename(in, blob.c_str(), 1 << 16) != ARCHIVE_OK)
    return Error(ArchiveError(in, "layer " + digest), EBADMSG);
  for (;;) {
    struct archive_entry* entry;
    int r = archive_read_next_header(in, &entry);
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
      return Error(ArchiveError(in, "layer " + digest), EBADMSG);
    ISO_ASSIGN_OR_RETURN(std::string rel, EntryPath(archive_entry_pathname(entry), digest));
    if (rel.empty()) continue;  // the layer's root directory
    std::string base = rel.substr(rel.rfind('/') == std::string::npos ? 0 : rel.rfind('/') + 1);
    std::string parent =
        dest + (rel.find('/') == std::string::npos ? "" : "/" + ParentOf("/" + rel).substr(1));
    if (base == ".wh..wh..opq") {
      ISO_RETURN_IF_ERROR(MakeDirs(parent, 0755));
      if (::setxattr(parent.c_str(), "trusted.overlay.opaque", "y", 1, 0) != 0)
        return Error::Errno("setxattr trusted.overlay.opaque", parent);
      continue;
    }
    if (base.starts_with(".wh.")) {
      ISO_RETURN_IF_ERROR(MakeDirs(parent, 0755));
      std::string target = parent + "/" + base.substr(4);
      if (::mknod(target.c_str(), S_IFCHR | 0000, makedev(0, 0)) != 0 && errno != EEXIST)
        return Error::Errno("mknod (whiteout)", target);
      continue;
    }
    std::string full = dest + "/" + rel;
    archive_entry_set_pathname(entry, full.c_str());
    if (const char* hard = archive_entry_hardlink(entry); hard != nullptr) {
      ISO_ASSIGN_OR_RETURN(std::string hard_rel, EntryPath(hard, digest));
      archive_entry_set_hardlink(entry, (dest + "/" + hard_rel).c_str());
    }
    if (archive_write_header(out, entry) != ARCHIVE_OK)
      return Error(ArchiveError(out, "layer " + digest + ": `" + rel + "`"), EIO);
    const void* buf;
    size_t size;
    la_int64_t offset;
    while ((r = archive_read_data_block(in, &buf, &size, &offset)) == ARCHIVE_OK) {
      if (archive_write_data_block(out, buf, size, offset) != ARCHIVE_OK)
        return Error(ArchiveError(out, "layer " + digest + ": `" + rel + "`"), EIO);
    }
    if (r != ARCHIVE_EOF) return Error(ArchiveError(in, "layer " + digest), EBADMSG);
    if (archive_write_finish_entry(out) != ARCHIVE_OK)
      return Error(ArchiveError(out, "layer " + digest + ": `" + rel + "`"), EIO);
  }
  return {};
}

uint64_t TreeBytes(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return 0;
  uint64_t total = static_cast<uint64_t>(st.st_blocks) * 512;
  if (S_ISDIR(st.st_mode)) {
    auto names = ListDir(path);
    if (names.ok())
      for (const auto& n : *names) total += TreeBytes(path + "/" + n);
  }
  return total;
}

}  // namespace

std::string Sha256Of(std::string_view bytes) {
  Sha256 h;
  h.Add(bytes.data(), bytes.size());
  return h.Digest();
}

Result<std::string> Sha256OfFile(const std::string& path) {
  ISO_ASSIGN_OR_RETURN(Fd fd, Open(path, O_RDONLY));
  Sha256 h;
  std::vector<char> buf(1 << 16);
  for (;;) {
    ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::Errno("read", path);
    if (n == 0) break;
    h.Add(buf.data(), static_cast<size_t>(n));
  }
  return h.Digest();
}

namespace {

Result<void> MeasureTree(const std::string& path, std::set<std::pair<dev_t, ino_t>>& seen,
                         TreeUsage& usage) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return Error::Errno("lstat", path);
  if (!seen.insert({st.st_dev, st.st_ino}).second) return {};
  usage.disk_bytes += static_cast<uint64_t>(st.st_blocks) * 512;
  if (S_ISDIR(st.st_mode)) {
    ISO_ASSIGN_OR_RETURN(auto names, ListDir(path));
    for (const auto& n : names) ISO_RETURN_IF_ERROR(MeasureTree(path + "/" + n, seen, usage));
    return {};
  }
  if (!S_ISREG(st.st_mode) || st.st_size == 0) return {};
  ++usage.files;
  ISO_ASSIGN_OR_RETURN(Fd fd, Open(path, O_RDONLY | O_NOATIME));
  size_t length = static_cast<size_t>(st.st_size);
  void* map = ::mmap(nullptr, length, PROT_READ, MAP_SHARED, fd.get(), 0);
  if (map == MAP_FAILED) return Error::Errno("mmap", path);
  long page = ::sysconf(_SC_PAGESIZE);
  std::vector<unsigned char> resident((length + page - 1) / page);
  int r = ::mincore(map, length, resident.data());
  int saved = errno;
  ::munmap(map, length);
  if (r != 0) return Error::Errno(saved, "mincore", path);
  for (unsigned char v : resident)
    if (v & 1) usage.cached_bytes += static_cast<uint64_t>(page);
  return {};
}

}  // namespace

Result<TreeUsage> MeasureTrees(const std::vector<std::string>& dirs) {
  TreeUsage usage;
  std::set<std::pair<dev_t, ino_t>> seen;
  for (const auto& dir : dirs) ISO_RETURN_IF_ERROR(MeasureTree(dir, seen, usage));
  return usage;
}

bool ValidDigest(std::string_view digest) {
  if (digest.size() != 71 || !digest.starts_with("sha256:")) return false;
  return std::all_of(digest.begin() + 7, digest.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

Result<LayerBlob> WriteLayer(const std::string& layout, std::vector<LayerEntry> entries) {
  std::set<std::string> present;
  for (const auto& e : entries) {
    if (e.path.empty() || e.path[0] != '/' || e.path == "/")
      return Error("layer entry `" + e.path + "`: not an absolute path below /", EINVAL);
    present.insert(e.path);
  }
  std::vector<LayerEntry> parents;
  for (const auto& e : entries)
    for (std::string p = ParentOf(e.path); p != "/"; p = ParentOf(p))
      if (present.insert(p).second) parents.push_back(LayerEntry{p, "", 0, ""});
  entries.insert(entries.end(), parents.begin(), parents.end());
  std::sort(entries.begin(), entries.end(),
            [](const LayerEntry& a, const LayerEntry& b) { return a.path < b.path; });
  std::string blobs = layout + "/blobs/sha256";
  ISO_RETURN_IF_ERROR(MakeDirs(blobs, 0755));
  std::string tmp = blobs + "/.layer-" + std::to_string(::getpid());
  ISO_RETURN_IF_ERROR(WriteTar(tmp + ".tar", entries));
  auto blob = Gzip(tmp + ".tar", tmp + ".gz");
  ::unlink((tmp + ".tar").c_str());
  if (!blob.ok()) {
    ::unlink((tmp + ".gz").c_str());
    return blob.error();
  }
  std::string final_path = blobs + "/" + HexOf(blob->digest);
  if (::rename((tmp + ".gz").c_str(), final_path.c_str()) != 0) {
    ::unlink((tmp + ".gz").c_str());
    return Error::Errno("rename", final_path);
  }
  return *blob;
}

Result<GuestLayers> SplitGuestRootfs(const std::string& rootfs) {
  std::vector<TreeEntry> tree;
  ISO_RETURN_IF_ERROR(Walk(rootfs, "", tree).Context("the guest userland `" + rootfs + "`"));
  GuestLayers layers;
  bool agent = false;
  for (const auto& e : tree) {
    LayerEntry entry{e.path, rootfs + e.path, 0, ""};
    if (e.path == GuestImage::kAgentPath) {
      layers.agent.push_back(entry);
      agent = true;
    } else if (!S_ISREG(e.st.st_mode) || e.path == "/bin/busybox" || e.path.starts_with("/etc/")) {
      layers.base.push_back(entry);
    } else {
      layers.tools.push_back(entry);
    }
  }
  if (!agent)
    return Error("the guest userland `" + rootfs + "` has no agent at " + GuestImage::kAgentPath,
                 ENOENT);
  return layers;
}

Result<std::vector<LayoutImage>> WriteGuestLayout(const std::string& layout,
                                                  const std::string& rootfs,
                                                  uint64_t padded_bytes) {
  ISO_ASSIGN_OR_RETURN(GuestLayers split, SplitGuestRootfs(rootfs));
  ISO_RETURN_IF_ERROR(MakeDirs(layout + "/blobs/sha256", 0755));
  ISO_RETURN_IF_ERROR(WriteWholeFile(layout + "/oci-layout", R"({"imageLayoutVersion":"1.0.0"})"));
  ISO_ASSIGN_OR_RETURN(LayerBlob base, WriteLayer(layout, split.base));
  ISO_ASSIGN_OR_RETURN(LayerBlob tools, WriteLayer(layout, split.tools));
  ISO_ASSIGN_OR_RETURN(LayerBlob agent, WriteLayer(layout, split.agent));
  std::vector<LayerEntry> alt_entries = split.agent;
  alt_entries.push_back(LayerEntry{"/etc/isobench/variant", "", 0, "alt\n"});
  ISO_ASSIGN_OR_RETURN(LayerBlob alt, WriteLayer(layout, alt_entries));

  std::vector<std::pair<std::string, std::vector<LayerBlob>>> images = {
      {"guest", {base, tools, agent}},
      {"guest-alt", {base, alt}},
  };
  if (padded_bytes > 0) {
    ISO_ASSIGN_OR_RETURN(LayerBlob padding,
                         WriteLayer(layout, {LayerEntry{"/padding/data", "", padded_bytes, ""}}));
    images.push_back({"guest-padded", {base, tools, agent, padding}});
  }
  json index = {{"schemaVersion", 2}, {"manifests", json::array()}};
  std::vector<LayoutImage> out;
  for (const auto& [name, blobs] : images) {
    json config = {{"architecture", "amd64"},
                   {"os", "linux"},
                   {"config", {{"Entrypoint", {GuestImage::kAgentPath}}}},
                   {"rootfs", {{"type", "layers"}, {"diff_ids", json::array()}}}};
    json manifest = {{"schemaVersion", 2}, {"mediaType", kManifestType}, {"layers", json::array()}};
    LayoutImage image;
    image.name = name;
    image.layers = blobs;
    for (const auto& b : blobs) {
      config["rootfs"]["diff_ids"].push_back(b.diff_id);
      manifest["layers"].push_back(
          {{"mediaType", kLayerType}, {"digest", b.digest}, {"size", b.size}});
      image.bytes += b.size;
    }
    std::string config_bytes = config.dump();
    ISO_ASSIGN_OR_RETURN(std::string config_digest, WriteBlob(layout, config_bytes));
    manifest["config"] = {
        {"mediaType", kConfigType}, {"digest", config_digest}, {"size", config_bytes.size()}};
    std::string manifest_bytes = manifest.dump();
    ISO_ASSIGN_OR_RETURN(image.manifest_digest, WriteBlob(layout, manifest_bytes));
    index["manifests"].push_back({{"mediaType", kManifestType},
                                  {"digest", image.manifest_digest},
                                  {"size", manifest_bytes.size()},
                                  {"annotations", {{kRefNameKey, name}}}});
    out.push_back(image);
  }
  ISO_RETURN_IF_ERROR(WriteWholeFile(layout + "/index.json", index.dump()));
  return out;
}

std::string LayoutNameOf(const std::string& reference) {
  std::string name = reference.substr(reference.find('/') + 1);
  for (char& c : name)
    if (c == '/')
      c = '-';
    else if (c == ':' || c == '@')
      c = '_';
  return name;
}

Result<Fd> LayerStore::Lock() const {
  ISO_RETURN_IF_ERROR(MakeDirs(root_ + "/layers", 0755));
  ISO_ASSIGN_OR_RETURN(Fd fd, Open(root_ + "/.lock", O_RDWR | O_CREAT, 0644));
  while (::flock(fd.get(), LOCK_EX) != 0)
    if (errno != EINTR) return Error::Errno("flock", root_ + "/.lock");
  return fd;
}

Result<PulledImage> LayerStore::Pull(const std::string& reference) {
  ISO_ASSIGN_OR_RETURN(RegistryReference ref, ParseReference(reference));
  ISO_ASSIGN_OR_RETURN(Fd lock, Lock());
  std::string layout = root_ + "/oci";
  std::string blobs = layout + "/blobs/sha256";
  auto before = ListDir(blobs);
  std::set<std::string> had;
  if (before.ok()) had.insert(before->begin(), before->end());
  std::string name = LayoutNameOf(reference);
  auto t0 = Clock::now();
  auto copied = RunCapture({kSkopeo, "copy", "--quiet", "--src-tls-verify=false",
                            "docker://" + ref.String(), "oci:" + layout + ":" + name},
                           std::chrono::minutes(10));
  if (!copied.ok())
    return Error("pulling `" + reference + "` with skopeo: " + copied.error().message(),
                 copied.error().errno_value());
  double fetch_seconds = SecondsBetween(t0, Clock::now());
  ISO_ASSIGN_OR_RETURN(PulledImage image, Unpack(layout, name));
  // Like the image cache: the layers of the last few images stay, the rest go unless held.
  (void)PruneLocked(kKeepLayers);
  image.reference = reference;
  image.fetch_seconds = fetch_seconds;
  // A layer's blob that was not in the layout before this copy was fetched by it.
  const std::string layers_prefix = root_ + "/layers/";  // <prefix><hex>/rootfs
  for (const auto& lower : image.lowers) {
    std::string hex = ParentOf(lower).substr(layers_prefix.size());
    struct stat st;
    if (had.count(hex) || ::stat((blobs + "/" + hex).c_str(), &st) != 0) continue;
    ++image.layers_fetched;
    image.fetched_bytes += static_cast<uint64_t>(st.st_size);
  }
  return image;
}

Result<PulledImage> LayerStore::Unpack(const std::string& layout, const std::string& name) {
  ISO_ASSIGN_OR_RETURN(std::string index_text, ReadFile(layout + "/index.json"));
  json index = json::parse(index_text, nullptr, false);
  if (index.is_discarded() || !index.contains("manifests") || !index["manifests"].is_array())
    return Error("`" + layout + "/index.json` is not an OCI image index", EBADMSG);
  std::string manifest_digest;
  for (const auto& m : index["manifests"])
    if (m.value("annotations", json::object()).value(kRefNameKey, "") == name)
      manifest_digest = m.value("digest", "");
  if (manifest_digest.empty())
    return Error("no image `" + name + "` in the layout `" + layout + "`", ENOENT);
  ISO_ASSIGN_OR_RETURN(json manifest, ReadJsonBlob(layout, manifest_digest, "manifest"));
  if (!manifest.contains("layers") || !manifest["layers"].is_array() || manifest["layers"].empty())
    return Error("manifest " + manifest_digest + " lists no layers", EBADMSG);
  PulledImage image;
  image.manifest_digest = manifest_digest;
  std::string layers_dir = root_ + "/layers";
  ISO_RETURN_IF_ERROR(MakeDirs(layers_dir, 0755));
  for (const auto& layer : manifest["layers"]) {
    std::string digest = layer.value("digest", "");
    if (!ValidDigest(digest))
      return Error(
          "manifest " + manifest_digest + ": layer `" + digest + "` is not a sha256 digest",
          EBADMSG);
    image.bytes += layer.value("size", uint64_t{0});
    std::string dir = layers_dir + "/" + HexOf(digest);
    std::string complete = dir + "/.complete";
    if (::access(complete.c_str(), F_OK) != 0) {
      std::string blob = layout + "/blobs/sha256/" + HexOf(digest);
      auto t0 = Clock::now();
      ISO_ASSIGN_OR_RETURN(std::string actual, Sha256OfFile(blob).Context("layer " + digest));
      image.verify_seconds += SecondsBetween(t0, Clock::now());
      if (actual != digest) {
        ::unlink(blob.c_str());
        return Error("layer " + digest + " of `" + name + "`: its content hashes to " + actual +
                         ": refused (the blob is deleted; the next pull fetches it again)",
                     EBADMSG);
      }
      auto t1 = Clock::now();
      std::string tmp = dir + ".tmp";
      (void)RemoveTree(tmp);
      ISO_RETURN_IF_ERROR(MakeDirs(tmp + "/rootfs", 0755));
      if (auto r = UnpackLayer(blob, tmp + "/rootfs", digest); !r.ok()) {
        (void)RemoveTree(tmp);
        return r.error();
      }
      ISO_RETURN_IF_ERROR(WriteWholeFile(tmp + "/.complete", digest + "\n"));
      (void)RemoveTree(dir);
      if (::rename(tmp.c_str(), dir.c_str()) != 0) {
        (void)RemoveTree(tmp);
        return Error::Errno("rename", dir);
      }
      image.unpack_seconds += SecondsBetween(t1, Clock::now());
      ++image.layers_unpacked;
    }
    ISO_ASSIGN_OR_RETURN(Fd held, Open(complete, O_RDONLY));
    if (::flock(held.get(), LOCK_SH) != 0) return Error::Errno("flock", complete);
    ::futimens(held.get(), nullptr);  // last used: now
    image.in_use.push_back(std::make_shared<const Fd>(std::move(held)));
    image.lowers.insert(image.lowers.begin(), dir + "/rootfs");
  }
  return image;
}

Result<int> LayerStore::Prune(int keep) {
  ISO_ASSIGN_OR_RETURN(Fd lock, Lock());
  return PruneLocked(keep);
}

Result<int> LayerStore::PruneLocked(int keep) {
  std::string layers_dir = root_ + "/layers";
  ISO_ASSIGN_OR_RETURN(auto names, ListDir(layers_dir));
  struct Candidate {
    std::string name;
    struct timespec used;
  };
  std::vector<Candidate> complete;
  int removed = 0;
  for (const auto& name : names) {
    std::string dir = layers_dir + "/" + name;
    struct stat st;
    if (name.ends_with(".tmp") || ::stat((dir + "/.complete").c_str(), &st) != 0) {
      (void)RemoveTree(dir);  // an interrupted unpack: pulls hold the store's lock
      continue;
    }
    complete.push_back({name, st.st_mtim});
  }
  std::sort(complete.begin(), complete.end(), [](const Candidate& a, const Candidate& b) {
    return a.used.tv_sec != b.used.tv_sec ? a.used.tv_sec > b.used.tv_sec
                                          : a.used.tv_nsec > b.used.tv_nsec;
  });
  for (size_t i = static_cast<size_t>(std::max(keep, 0)); i < complete.size(); ++i) {
    std::string dir = layers_dir + "/" + complete[i].name;
    auto fd = Open(dir + "/.complete", O_RDONLY);
    if (fd.ok() && ::flock(fd->get(), LOCK_EX | LOCK_NB) != 0) continue;  // in use
    ISO_RETURN_IF_ERROR(RemoveTree(dir));
    ::unlink((root_ + "/oci/blobs/sha256/" + complete[i].name).c_str());
    ++removed;
  }
  return removed;
}

Result<int> LayerStore::Evict() {
  ISO_ASSIGN_OR_RETURN(Fd lock, Lock());
  return PruneLocked(0);
}

Result<LayerStore::Usage> LayerStore::DiskUsage() const {
  Usage usage;
  usage.blob_bytes = TreeBytes(root_ + "/oci");
  auto names = ListDir(root_ + "/layers");
  if (names.ok())
    for (const auto& name : *names) {
      if (name.ends_with(".tmp")) continue;
      usage.unpacked_bytes += TreeBytes(root_ + "/layers/" + name);
      ++usage.layers;
    }
  return usage;
}

}  // namespace isobench::harness
