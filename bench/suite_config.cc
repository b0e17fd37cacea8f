#include "bench/suite_config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <set>

#include "harness/fd.h"
#include "harness/subnet.h"

namespace isobench::bench {
namespace {

using harness::Error;
using harness::Result;

class Reader {
 public:
  Reader(const toml::table& table, std::string section, std::string source)
      : table_(table), section_(std::move(section)), source_(std::move(source)) {}

  Result<void> Int(const char* key, int min, int max, int* out) {
    seen_.insert(key);
    const toml::node* node = table_.get(key);
    if (!node) return {};
    auto value = node->value<int64_t>();
    if (!node->is_integer() || !value) return Bad(key, "must be an integer");
    if (*value < min || *value > max)
      return Bad(key, "must be between " + std::to_string(min) + " and " + std::to_string(max) +
                          " (got " + std::to_string(*value) + ")");
    *out = static_cast<int>(*value);
    return {};
  }

  Result<void> String(const char* key, std::string* out) {
    seen_.insert(key);
    const toml::node* node = table_.get(key);
    if (!node) return {};
    if (!node->is_string()) return Bad(key, "must be a string");
    *out = *node->value<std::string>();
    return {};
  }

  Result<void> Bool(const char* key, bool* out) {
    seen_.insert(key);
    const toml::node* node = table_.get(key);
    if (!node) return {};
    if (!node->is_boolean()) return Bad(key, "must be true or false");
    *out = *node->value<bool>();
    return {};
  }

  Result<void> IntList(const char* key, int min, int max, std::vector<int>* out) {
    seen_.insert(key);
    const toml::node* node = table_.get(key);
    if (!node) return {};
    const toml::array* array = node->as_array();
    if (!array) return Bad(key, "must be an array of integers");
    if (array->size() > 64) return Bad(key, "has more than 64 entries");
    std::vector<int> values;
    for (const auto& item : *array) {
      auto v = item.value<int64_t>();
      if (!item.is_integer() || !v) return Bad(key, "must be an array of integers");
      if (*v < min || *v > max)
        return Bad(
            key, "entries must be between " + std::to_string(min) + " and " + std::to_string(max));
      values.push_back(static_cast<int>(*v));
    }
    *out = std::move(values);
    return {};
  }

  Result<void> StringList(const char* key, const std::set<std::string>& allowed,
                          std::vector<std::string>* out) {
    seen_.insert(key);
    const toml::node* node = table_.get(key);
    if (!node) return {};
    std::string known;
    for (const auto& a : allowed) known += (known.empty() ? "" : ", ") + a;
    const toml::array* array = node->as_array();
    if (!array) return Bad(key, "must be an array of strings (known: " + known + ")");
    if (array->empty()) return Bad(key, "is empty");
    std::vector<std::string> values;
    for (const auto& item : *array) {
      auto v = item.value<std::string>();
      if (!item.is_string() || !v)
        return Bad(key, "must be an array of strings (known: " + known + ")");
      if (!allowed.count(*v)) return Bad(key, "has `" + *v + "` (known: " + known + ")");
      if (std::find(values.begin(), values.end(), *v) != values.end())
        return Bad(key, "lists `" + *v + "` twice");
      values.push_back(*v);
    }
    *out = std::move(values);
    return {};
  }

  // `key` and its older name `alias` mean the same; both at once is an error.
  Result<void> IntAlias(const char* key, const char* alias, int min, int max, int* out) {
    if (table_.get(key) && table_.get(alias))
      return Bad(alias, std::string("is the older name of `") + key + "`: give one of them");
    ISO_RETURN_IF_ERROR(Int(alias, min, max, out));
    return Int(key, min, max, out);
  }

  Result<void> IoJobList(const char* key, std::vector<IoJob>* out) {
    seen_.insert(key);
    const toml::node* node = table_.get(key);
    if (!node) return {};
    const toml::array* array = node->as_array();
    if (!array) return Bad(key, "must be an array of strings like \"randread:4k:qd32\"");
    if (array->empty()) return Bad(key, "is empty (set `enabled = false` to skip I/O)");
    if (array->size() > 64) return Bad(key, "has more than 64 entries");
    std::vector<IoJob> jobs;
    std::set<std::string> names;
    for (const auto& item : *array) {
      auto text = item.value<std::string>();
      if (!item.is_string() || !text)
        return Bad(key, "must be an array of strings like \"randread:4k:qd32\"");
      auto job = ParseIoJob(*text);
      if (!job.ok()) return Bad(key, job.error().message());
      if (!names.insert(job->Name()).second) return Bad(key, "lists `" + job->Name() + "` twice");
      jobs.push_back(std::move(*job));
    }
    *out = std::move(jobs);
    return {};
  }

  Result<void> NoUnknownKeys() {
    for (const auto& [key, node] : table_) {
      if (!seen_.count(std::string(key.str())))
        return Error(source_ + ": unknown key `" + section_ + "." + std::string(key.str()) + "`",
                     EINVAL);
    }
    return {};
  }

 private:
  Result<void> Bad(const char* key, const std::string& why) {
    return Error(source_ + ": `" + section_ + "." + key + "` " + why, EINVAL);
  }

  const toml::table& table_;
  std::string section_;
  std::string source_;
  std::set<std::string> seen_;
};

}  // namespace

Result<IoJob> ParseIoJob(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return Error("entry `" + std::string(text.substr(0, 64)) + "` " + why, EINVAL);
  };
  size_t a = text.find(':');
  size_t b = a == std::string_view::npos ? a : text.find(':', a + 1);
  if (b == std::string_view::npos || text.find(':', b + 1) != std::string_view::npos)
    return bad("is not rw:bs:qdN (e.g. randread:4k:qd32)");
  IoJob job;
  job.rw = std::string(text.substr(0, a));
  job.bs = std::string(text.substr(a + 1, b - a - 1));
  std::string_view qd = text.substr(b + 1);
  static const std::set<std::string> kRw = {"read", "write", "randread", "randwrite"};
  if (!kRw.count(job.rw))
    return bad("has rw `" + job.rw + "` (known: read, write, randread, randwrite)");
  // Block size: digits and an optional k or M, 512 bytes to 64 MiB.
  size_t digits = 0;
  while (digits < job.bs.size() && job.bs[digits] >= '0' && job.bs[digits] <= '9') ++digits;
  std::string suffix = job.bs.substr(digits);
  if (digits == 0 || digits > 8 || !(suffix.empty() || suffix == "k" || suffix == "M"))
    return bad("has block size `" + job.bs + "` (digits and an optional k or M, e.g. 4k, 1M)");
  uint64_t bytes = std::stoull(job.bs.substr(0, digits)) * (suffix == "k"   ? 1024ull
                                                            : suffix == "M" ? 1024ull * 1024
                                                                            : 1ull);
  if (bytes < 512 || bytes > (64ull << 20) || bytes % 512 != 0)
    return bad("has block size `" + job.bs +
               "`: direct I/O needs a multiple of 512 bytes, at most 64M");
  if (qd.size() < 3 || qd.size() > 6 || qd.substr(0, 2) != "qd" ||
      qd.find_first_not_of("0123456789", 2) != std::string_view::npos)
    return bad("has queue depth `" + std::string(qd) + "` (qd1 to qd1024)");
  job.iodepth = std::stoi(std::string(qd.substr(2)));
  if (job.iodepth < 1 || job.iodepth > 1024)
    return bad("has queue depth `" + std::string(qd) + "` (qd1 to qd1024)");
  return job;
}

Result<SuiteConfig> ParseSuiteConfig(std::string_view toml_text, std::string_view source) {
  SuiteConfig config;
  config.source = source;
  std::string src(source);
  if (toml_text.size() > (1 << 20)) return Error(src + ": suite file larger than 1 MiB", EFBIG);
  toml::table root;
  try {
    root = toml::parse(toml_text, source);
  } catch (const toml::parse_error& e) {
    const auto& begin = e.source().begin;
    return Error(src + ":" + std::to_string(begin.line) + ":" + std::to_string(begin.column) +
                     ": " + std::string(e.description()),
                 EINVAL);
  }
  static const std::set<std::string> kSections = {"startup", "density",   "overhead", "io",
                                                  "net",     "isolation", "image"};
  for (const auto& [key, node] : root) {
    std::string name(key.str());
    if (!kSections.count(name))
      return Error(src + ": unknown section `" + name +
                       "` (known: startup, density, overhead, io, net, isolation, image)",
                   EINVAL);
    if (!node.is_table()) return Error(src + ": `" + name + "` must be a table", EINVAL);
  }
  auto section = [&](const char* name) -> const toml::table& {
    static const toml::table kEmpty;
    const toml::table* t = root[name].as_table();
    return t ? *t : kEmpty;
  };

  Reader s(section("startup"), "startup", src);
  ISO_RETURN_IF_ERROR(s.Bool("enabled", &config.startup.enabled));
  ISO_RETURN_IF_ERROR(s.Int("repetitions", 1, 100000, &config.startup.repetitions));
  ISO_RETURN_IF_ERROR(s.Int("vm_repetitions", 1, 1000, &config.startup.vm_repetitions));
  ISO_RETURN_IF_ERROR(s.IntList("parallel", 1, 256, &config.startup.parallel));
  ISO_RETURN_IF_ERROR(s.IntList("vm_parallel", 1, 64, &config.startup.vm_parallel));
  ISO_RETURN_IF_ERROR(s.Bool("qemu_raw", &config.startup.qemu_raw));
  ISO_RETURN_IF_ERROR(s.Bool("minimal_kernel", &config.startup.minimal_kernel));
  ISO_RETURN_IF_ERROR(s.Int("parallel_rounds", 1, 1000, &config.startup.parallel_rounds));
  ISO_RETURN_IF_ERROR(s.Int("vm_parallel_rounds", 1, 1000, &config.startup.vm_parallel_rounds));
  ISO_RETURN_IF_ERROR(s.Bool("vm_warmup", &config.startup.vm_warmup));
  ISO_RETURN_IF_ERROR(s.Bool("netns_pool", &config.startup.netns_pool));
  ISO_RETURN_IF_ERROR(s.Bool("vm_cpu_features", &config.startup.vm_cpu_features));
  ISO_RETURN_IF_ERROR(s.NoUnknownKeys());

  Reader d(section("density"), "density", src);
  ISO_RETURN_IF_ERROR(d.Bool("enabled", &config.density.enabled));
  ISO_RETURN_IF_ERROR(d.Int("memory_budget_mib", 16, 1 << 22, &config.density.memory_budget_mib));
  ISO_RETURN_IF_ERROR(d.Int("max_instances", 1, 4096, &config.density.max_instances));
  ISO_RETURN_IF_ERROR(d.Int("vm_max_instances", 0, 1024, &config.density.vm_max_instances));
  ISO_RETURN_IF_ERROR(d.IntList("steps", 1, 4096, &config.density.steps));
  ISO_RETURN_IF_ERROR(d.Int("rounds", 1, 1000, &config.density.rounds));
  ISO_RETURN_IF_ERROR(d.Int("vm_rounds", 0, 1000, &config.density.vm_rounds));
  ISO_RETURN_IF_ERROR(
      d.Int("latency_ceiling_ms", 0, 3'600'000, &config.density.latency_ceiling_ms));
  ISO_RETURN_IF_ERROR(
      d.Int("vm_latency_ceiling_ms", 0, 3'600'000, &config.density.vm_latency_ceiling_ms));
  ISO_RETURN_IF_ERROR(d.Int("ramp_max_instances", 0, 10000, &config.density.ramp_max_instances));
  ISO_RETURN_IF_ERROR(d.IntList("ramp_steps", 1, 10000, &config.density.ramp_steps));
  ISO_RETURN_IF_ERROR(
      d.Int("vm_ramp_max_instances", 0, 4096, &config.density.vm_ramp_max_instances));
  ISO_RETURN_IF_ERROR(d.IntList("vm_ramp_steps", 1, 4096, &config.density.vm_ramp_steps));
  ISO_RETURN_IF_ERROR(d.StringList("ramp_backends",
                                   {"container", "runc", "crun", "oci", "docker", "vm"},
                                   &config.density.ramp_backends));
  ISO_RETURN_IF_ERROR(d.Int("ramp_rounds", 1, 100, &config.density.ramp_rounds));
  ISO_RETURN_IF_ERROR(d.NoUnknownKeys());

  Reader o(section("overhead"), "overhead", src);
  ISO_RETURN_IF_ERROR(o.Bool("enabled", &config.overhead.enabled));
  ISO_RETURN_IF_ERROR(o.IntAlias("rounds", "repetitions", 1, 1000, &config.overhead.rounds));
  ISO_RETURN_IF_ERROR(o.Int("vm_rounds", 0, 1000, &config.overhead.vm_rounds));
  ISO_RETURN_IF_ERROR(
      o.Int("syscall_iterations", 1, 1000000000, &config.overhead.syscall_iterations));
  ISO_RETURN_IF_ERROR(o.Int("page_fault_pages", 1, 1 << 22, &config.overhead.page_fault_pages));
  ISO_RETURN_IF_ERROR(o.Int("bandwidth_bytes_mib", 1, 1024, &config.overhead.bandwidth_bytes_mib));
  ISO_RETURN_IF_ERROR(o.NoUnknownKeys());
  if (config.overhead.vm_rounds > config.overhead.rounds)
    return Error(src + ": `overhead.vm_rounds` (" + std::to_string(config.overhead.vm_rounds) +
                     ") must not exceed `overhead.rounds` (" +
                     std::to_string(config.overhead.rounds) + ")",
                 EINVAL);

  Reader i(section("io"), "io", src);
  ISO_RETURN_IF_ERROR(i.Bool("enabled", &config.io.enabled));
  ISO_RETURN_IF_ERROR(i.Int("size_mib", 1, 1 << 20, &config.io.size_mib));
  int runtime_s = 0;
  ISO_RETURN_IF_ERROR(i.Int("runtime_s", 1, 3600, &runtime_s));
  ISO_RETURN_IF_ERROR(i.Int("runtime_ms", 100, 3600000, &config.io.runtime_ms));
  if (runtime_s > 0) {
    if (section("io").get("runtime_ms"))
      return Error(src + ": `io.runtime_s` and `io.runtime_ms` both given: give one of them",
                   EINVAL);
    config.io.runtime_ms = runtime_s * 1000;
  }
  ISO_RETURN_IF_ERROR(i.Int("rounds", 1, 1000, &config.io.rounds));
  ISO_RETURN_IF_ERROR(i.Int("vm_rounds", 0, 1000, &config.io.vm_rounds));
  ISO_RETURN_IF_ERROR(
      i.StringList("targets", {"fs", "overlay", "volume", "disk"}, &config.io.targets));
  ISO_RETURN_IF_ERROR(i.IoJobList("jobs", &config.io.jobs));
  ISO_RETURN_IF_ERROR(i.NoUnknownKeys());
  if (config.io.vm_rounds > config.io.rounds)
    return Error(src + ": `io.vm_rounds` (" + std::to_string(config.io.vm_rounds) +
                     ") must not exceed `io.rounds` (" + std::to_string(config.io.rounds) + ")",
                 EINVAL);

  Reader n(section("net"), "net", src);
  ISO_RETURN_IF_ERROR(n.Bool("enabled", &config.net.enabled));
  ISO_RETURN_IF_ERROR(n.Int("rounds", 1, 1000, &config.net.rounds));
  ISO_RETURN_IF_ERROR(n.Int("vm_rounds", 0, 1000, &config.net.vm_rounds));
  ISO_RETURN_IF_ERROR(n.Int("rr_rounds", 0, 1000, &config.net.rr_rounds));
  ISO_RETURN_IF_ERROR(
      n.StringList("workloads", {"tcp_stream", "tcp_stream_reverse", "tcp_rr", "udp_rr", "tcp_crr"},
                   &config.net.workloads));
  ISO_RETURN_IF_ERROR(n.StringList("paths", {"host", "peer"}, &config.net.paths));
  ISO_RETURN_IF_ERROR(n.String("subnet", &config.net.subnet));
  ISO_RETURN_IF_ERROR(n.String("docker_subnet", &config.net.docker_subnet));
  auto subnet = harness::ParseBridgeSubnet(config.net.subnet);
  if (!subnet.ok()) return Error(src + ": `net.subnet`: " + subnet.error().message(), EINVAL);
  auto docker_subnet = harness::ParseBridgeSubnet(config.net.docker_subnet);
  if (!docker_subnet.ok())
    return Error(src + ": `net.docker_subnet`: " + docker_subnet.error().message(), EINVAL);
  if (harness::SubnetsOverlap(*subnet, *docker_subnet))
    return Error(src + ": `net.subnet` (" + config.net.subnet + ") and `net.docker_subnet` (" +
                     config.net.docker_subnet + ") overlap",
                 EINVAL);
  ISO_RETURN_IF_ERROR(n.Int("stream_mib", 1, 1 << 20, &config.net.stream_mib));
  ISO_RETURN_IF_ERROR(n.Int("rr_seconds", 1, 3600, &config.net.rr_seconds));
  ISO_RETURN_IF_ERROR(n.Int("iperf3_port", 1024, 65535, &config.net.iperf3_port));
  ISO_RETURN_IF_ERROR(n.Int("sockperf_port", 1024, 65535, &config.net.sockperf_port));
  ISO_RETURN_IF_ERROR(n.Int("http_port", 1024, 65535, &config.net.http_port));
  ISO_RETURN_IF_ERROR(n.NoUnknownKeys());
  if (config.net.vm_rounds > config.net.rounds)
    return Error(src + ": `net.vm_rounds` (" + std::to_string(config.net.vm_rounds) +
                     ") must not exceed `net.rounds` (" + std::to_string(config.net.rounds) + ")",
                 EINVAL);
  if (config.net.rr_rounds > config.net.rounds)
    return Error(src + ": `net.rr_rounds` (" + std::to_string(config.net.rr_rounds) +
                     ") must not exceed `net.rounds` (" + std::to_string(config.net.rounds) + ")",
                 EINVAL);
  if (config.net.iperf3_port == config.net.sockperf_port)
    return Error(src + ": `net.iperf3_port` and `net.sockperf_port` are the same port", EINVAL);
  if (config.net.http_port == config.net.iperf3_port ||
      config.net.http_port == config.net.sockperf_port)
    return Error(src + ": `net.http_port` is the port of iperf3 or sockperf", EINVAL);

  IsolationConfig& iso = config.isolation;
  Reader x(section("isolation"), "isolation", src);
  ISO_RETURN_IF_ERROR(x.Bool("enabled", &iso.enabled));
  ISO_RETURN_IF_ERROR(x.Int("rounds", 1, 1000, &iso.rounds));
  ISO_RETURN_IF_ERROR(x.Int("vm_rounds", 0, 1000, &iso.vm_rounds));
  ISO_RETURN_IF_ERROR(x.StringList(
      "stressors", {"cpu", "memory", "fork", "disk", "net_send", "net_recv"}, &iso.stressors));
  ISO_RETURN_IF_ERROR(
      x.StringList("metrics", {"cpu", "memory", "latency", "randread", "tcp_rr"}, &iso.metrics));
  ISO_RETURN_IF_ERROR(x.Bool("full_matrix", &iso.full_matrix));
  ISO_RETURN_IF_ERROR(x.Int("cpu_quota_pct", 10, 6400, &iso.cpu_quota_pct));
  ISO_RETURN_IF_ERROR(x.Int("memory_mib", 128, 1 << 20, &iso.memory_mib));
  ISO_RETURN_IF_ERROR(x.Int("pids_limit", 32, 1 << 22, &iso.pids_limit));
  ISO_RETURN_IF_ERROR(x.Int("io_weight", 0, 1000, &iso.io_weight));
  if (iso.io_weight != 0 && iso.io_weight < 10)
    return Error(src + ": `isolation.io_weight` (" + std::to_string(iso.io_weight) +
                     ") must be 0 (unset) or 10..1000",
                 EINVAL);
  ISO_RETURN_IF_ERROR(x.Int("settle_ms", 0, 60000, &iso.settle_ms));
  ISO_RETURN_IF_ERROR(x.Int("cpu_dma_latency_us", -1, 1000000, &iso.cpu_dma_latency_us));
  ISO_RETURN_IF_ERROR(x.StringList("weak_neighbour", {"cpu_limit", "memory_limit", "pids_limit"},
                                   &iso.weak_neighbour));
  ISO_RETURN_IF_ERROR(x.Int("iperf3_port", 1024, 65535, &iso.iperf3_port));
  ISO_RETURN_IF_ERROR(x.Int("echo_port", 1024, 65535, &iso.echo_port));
  ISO_RETURN_IF_ERROR(x.NoUnknownKeys());
  if (iso.vm_rounds > iso.rounds)
    return Error(src + ": `isolation.vm_rounds` (" + std::to_string(iso.vm_rounds) +
                     ") must not exceed `isolation.rounds` (" + std::to_string(iso.rounds) + ")",
                 EINVAL);
  if (iso.iperf3_port == iso.echo_port)
    return Error(src + ": `isolation.iperf3_port` and `isolation.echo_port` are the same port",
                 EINVAL);
  // The network family's servers live until the suite ends.
  for (int port : {iso.iperf3_port, iso.echo_port})
    if (port == config.net.iperf3_port || port == config.net.sockperf_port ||
        port == config.net.http_port)
      return Error(src + ": `isolation` port " + std::to_string(port) +
                       " is a port of the network family's servers (`net.*_port`)",
                   EINVAL);
  ImageConfig& image = config.image;
  Reader g(section("image"), "image", src);
  ISO_RETURN_IF_ERROR(g.Bool("enabled", &image.enabled));
  ISO_RETURN_IF_ERROR(g.Int("rounds", 1, 1000, &image.rounds));
  ISO_RETURN_IF_ERROR(g.Int("vm_rounds", 0, 1000, &image.vm_rounds));
  ISO_RETURN_IF_ERROR(g.Int("padded_mib", 0, 4096, &image.padded_mib));
  ISO_RETURN_IF_ERROR(g.Int("sharing_instances", 0, 256, &image.sharing_instances));
  ISO_RETURN_IF_ERROR(g.NoUnknownKeys());
  if (image.vm_rounds > image.rounds)
    return Error(src + ": `image.vm_rounds` (" + std::to_string(image.vm_rounds) +
                     ") must not exceed `image.rounds` (" + std::to_string(image.rounds) + ")",
                 EINVAL);
  return config;
}

Result<SuiteConfig> LoadSuiteConfig(const std::string& path) {
  ISO_ASSIGN_OR_RETURN(std::string text, harness::ReadFile(path).Context("suite file"));
  return ParseSuiteConfig(text, path);
}

}  // namespace isobench::bench
