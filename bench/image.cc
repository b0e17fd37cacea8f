// Image distribution: what a node pays for an image before its first instance, and what
// layer sharing saves, on every backend whose traits say registry_images (the native
// runtime through the layer store, Docker through its own pull).
//
// The guest userland is published to the loopback registry as layered OCI images
// (harness/registry.h): guest (base, tools, agent), guest-alt (the same base and a layer
// of its own) and guest-padded (guest plus `padded_mib` of incompressible bytes). Each
// round r measures, per backend and image (small = guest, padded):
//
//   Image/<b>/pull:cold/image:<i>   the backend's store emptied, then one pull
//   Image/<b>/pull:warm/image:<i>   the same pull with every layer present: the manifest
//                                   round trip and the store's bookkeeping
//   Image/<b>/start:warm/image:<i>  create -> ready of an instance of the pulled image
//   Image/<b>/start:cold/image:<i>  the store emptied, then create -> ready: pull,
//                                   verify, unpack and start, as a fresh node pays it
//
// A cold case begins with the host's dirty pages written back (sync(2), untimed): the
// previous case's unpack and the eviction's deletes would otherwise be written back
// during this one's. Without it the small image's cold pull was bimodal (244-290 ms in
// some rounds, 380-500 ms in others) and the gate could not see a 40 % slowdown; with
// it the nine rounds spanned 335-456 ms and it could. A fresh node has no such backlog.
//
// and once, after the rounds (report-only: a size, not a sample):
//
//   Image/<b>/sharing/n:<N>         N instances of guest and N of guest-alt running at
//                                   once; disk and page-cache bytes of their layers,
//                                   each file counted once, against 2N separate copies
//
// A VM boots the pulled layers as its initramfs (the start has "pull" and "initramfs"
// phases); it takes part in the first vm_rounds rounds, with the small image only: its
// image lives in guest RAM, so the padded one would need a bigger guest than every other
// row's, and guests share no layer pages (no sharing row).
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <iostream>
#include <map>
#include <memory>
#include <vector>

#include "bench/bench_main.h"
#include "bench/families.h"
#include "harness/layers.h"
#include "harness/registry.h"

namespace isobench::bench {
namespace {

std::atomic<int> g_counter{0};

void CountPull(benchmark::State& state, const harness::ImagePull& pull) {
  if (pull.layers > 0) state.counters["layers"] = pull.layers;
  state.counters["layers_fetched"] = pull.layers_fetched;
  state.counters["layers_unpacked"] = pull.layers_unpacked;
  if (pull.fetched_bytes > 0)
    state.counters["fetched_bytes"] = static_cast<double>(pull.fetched_bytes);
  if (pull.fetch_seconds) state.counters["fetch_s"] = *pull.fetch_seconds;
  if (pull.verify_seconds) state.counters["verify_s"] = *pull.verify_seconds;
  if (pull.unpack_seconds) state.counters["unpack_s"] = *pull.unpack_seconds;
}

bool Failed(benchmark::State& state, const std::string& backend, const std::string& what,
            const harness::Error& error) {
  state.SkipWithError((backend + ": " + what + ": " + error.message()).c_str());
  return false;
}

// Empties the backend's image store and writes the host's dirty pages back: where every
// cold case starts.
bool MakeCold(benchmark::State& state, harness::Backend& backend) {
  if (auto evicted = backend.EvictImages(); !evicted.ok())
    return Failed(state, backend.name(), "emptying its image store", evicted.error());
  ::sync();
  return true;
}

bool Pull(benchmark::State& state, harness::Backend& backend, const std::string& ref, bool cold) {
  if (SkippedOnInterrupt(state)) return false;
  if (cold && !MakeCold(state, backend)) return false;
  auto pull = backend.Pull(ref);
  if (!pull.ok()) return Failed(state, backend.name(), "pull", pull.error());
  // A cold pull that found a layer, or a warm one that fetched one, measured something else.
  if (cold && (pull->layers == 0 || pull->layers_fetched != pull->layers)) {
    state.SkipWithError((backend.name() + ": a cold pull fetched " +
                         std::to_string(pull->layers_fetched) + " of " +
                         std::to_string(pull->layers) + " layers: the store was not empty")
                            .c_str());
    return false;
  }
  if (!cold && pull->layers_fetched != 0) {
    state.SkipWithError((backend.name() + ": a warm pull fetched " +
                         std::to_string(pull->layers_fetched) + " layers")
                            .c_str());
    return false;
  }
  state.SetIterationTime(pull->seconds);
  CountPull(state, *pull);
  return true;
}

bool Start(benchmark::State& state, harness::Backend& backend, const std::string& ref, bool cold) {
  if (SkippedOnInterrupt(state)) return false;
  if (cold) {
    if (!MakeCold(state, backend)) return false;
  } else if (auto pulled = backend.Pull(ref); !pulled.ok()) {
    return Failed(state, backend.name(), "pull before a warm start", pulled.error());
  }
  harness::InstanceSpec spec;
  spec.name = "image-" + std::to_string(g_counter++);
  spec.memory_bytes = 256ull << 20;
  spec.image = ref;
  auto instance = backend.Create(spec);
  if (!instance.ok()) return Failed(state, backend.name(), "start", instance.error());
  const auto& timing = (*instance)->startup();
  state.SetIterationTime(timing.ready_seconds);
  for (const auto& phase : timing.phases)
    state.counters["phase_" + phase.name + "_s"] = phase.seconds;
  auto destroyed = (*instance)->Destroy();
  if (!destroyed.ok()) return Failed(state, backend.name(), "destroy", destroyed.error());
  return true;
}

// N instances of each image at once; their layers measured as they are (shared) and as
// 2N copies would be.
bool Sharing(benchmark::State& state, harness::Backend& backend, const std::string& guest,
             const std::string& alt, int n) {
  if (auto evicted = backend.EvictImages(); !evicted.ok())
    return Failed(state, backend.name(), "emptying its image store", evicted.error());
  std::vector<std::unique_ptr<harness::Instance>> live;
  auto start = harness::Clock::now();
  for (int i = 0; i < 2 * n; ++i) {
    if (SkippedOnInterrupt(state)) return false;
    harness::InstanceSpec spec;
    spec.name = "share-" + std::to_string(g_counter++);
    spec.memory_bytes = 64ull << 20;
    spec.image = i % 2 == 0 ? guest : alt;
    auto instance = backend.Create(spec);
    if (!instance.ok()) return Failed(state, backend.name(), "start", instance.error());
    live.push_back(std::move(*instance));
  }
  double seconds = harness::SecondsBetween(start, harness::Clock::now());
  auto guest_dirs = backend.ImageLayerDirs(guest);
  if (!guest_dirs.ok())
    return Failed(state, backend.name(), "layers of " + guest, guest_dirs.error());
  auto alt_dirs = backend.ImageLayerDirs(alt);
  if (!alt_dirs.ok()) return Failed(state, backend.name(), "layers of " + alt, alt_dirs.error());
  std::vector<std::string> both = *guest_dirs;
  both.insert(both.end(), alt_dirs->begin(), alt_dirs->end());
  auto shared = harness::MeasureTrees(both);
  auto one_guest = harness::MeasureTrees(*guest_dirs);
  auto one_alt = harness::MeasureTrees(*alt_dirs);
  for (const auto* m : {&shared, &one_guest, &one_alt})
    if (!m->ok()) return Failed(state, backend.name(), "measuring layers", m->error());
  live.clear();
  double copies_disk = n * static_cast<double>(one_guest->disk_bytes + one_alt->disk_bytes);
  double copies_cache = n * static_cast<double>(one_guest->cached_bytes + one_alt->cached_bytes);
  state.SetIterationTime(seconds);
  state.counters["n_per_image"] = n;
  state.counters["disk_bytes"] = static_cast<double>(shared->disk_bytes);
  state.counters["disk_copies_bytes"] = copies_disk;
  state.counters["disk_saved_fraction"] = 1.0 - shared->disk_bytes / copies_disk;
  state.counters["cache_bytes"] = static_cast<double>(shared->cached_bytes);
  state.counters["cache_copies_bytes"] = copies_cache;
  if (copies_cache > 0)
    state.counters["cache_saved_fraction"] = 1.0 - shared->cached_bytes / copies_cache;
  return true;
}

}  // namespace

void RegisterImage(BenchSession& bench) {
  const ImageConfig& config = bench.suite.image;
  if (!config.enabled) return;
  std::vector<harness::Backend*> rows;
  for (harness::Backend* b : bench.AllRows())
    if (b->traits().registry_images) rows.push_back(b);
  if (rows.empty()) {
    benchmark::AddCustomContext("bench.image.skipped",
                                "no backend of this run starts from registry images");
    return;
  }
  for (harness::Backend* backend : rows) bench.RecordTraits(*backend);
  auto is_vm = [](const harness::Backend* b) {
    return b->traits().kind == harness::BackendTraits::Kind::kVm;
  };
  if (std::any_of(rows.begin(), rows.end(), is_vm))
    benchmark::AddCustomContext(
        "bench.image.vm_cases",
        "a VM boots the pulled layers as its initramfs, in the first " +
            std::to_string(config.VmRounds()) +
            " rounds, with the small image only: the image lives in guest RAM, so the padded "
            "one would need a bigger guest than every other row's, and guests share no layer "
            "pages (no sharing row)");
  std::string address = harness::RegistryAddress();
  std::cerr << "isobench: Image: publishing the guest images to the registry at " << address
            << " (padded: " << config.padded_mib << " MiB)\n";
  auto published = harness::PublishGuestImages(address, bench.context.image,
                                               static_cast<uint64_t>(config.padded_mib) << 20);
  std::map<std::string, std::string> images;  // case name -> reference
  if (published.ok()) {
    images["small"] = published->guest;
    if (!published->padded.empty()) images["padded"] = published->padded;
    benchmark::AddCustomContext("bench.image.registry", address);
    for (size_t i = 0; i < published->images.size(); ++i) {
      const harness::LayoutImage& image = published->images[i];
      std::string sizes;
      for (const auto& layer : image.layers)
        sizes += (sizes.empty() ? "" : ",") + std::to_string(layer.size);
      benchmark::AddCustomContext("bench.image." + image.name,
                                  std::to_string(image.layers.size()) + " layers, " +
                                      std::to_string(image.bytes) + " bytes compressed (" + sizes +
                                      "), manifest " + image.manifest_digest);
    }
  }
  for (int round = 0; round < config.rounds; ++round) {
    for (harness::Backend* backend : rows) {
      const bool vm = is_vm(backend);
      if (vm && round >= config.VmRounds()) continue;
      std::string name = backend->name();
      for (const std::string& c : {std::string("small"), std::string("padded")}) {
        if (c == "padded" && (config.padded_mib == 0 || vm)) continue;
        for (const char* what : {"pull:cold", "pull:warm", "start:warm", "start:cold"}) {
          std::string row = "Image/" + name + "/" + what + "/image:" + c;
          if (!published.ok()) {
            RegisterFailingRow(bench, row,
                               "the images could not be published: " + published.error().message());
            continue;
          }
          std::string ref = images[c];
          bool cold = std::string(what).ends_with("cold");
          bool pull = std::string(what).starts_with("pull");
          bench
              .Register(row,
                        [backend, ref, cold, pull](benchmark::State& state) {
                          for (auto _ : state)
                            if (!(pull ? Pull(state, *backend, ref, cold)
                                       : Start(state, *backend, ref, cold)))
                              break;
                        })
              ->Iterations(1)
              ->UseManualTime()
              ->Unit(benchmark::kMillisecond);
        }
      }
    }
  }
  if (config.sharing_instances > 0) {
    for (harness::Backend* backend : rows) {
      if (is_vm(backend)) continue;
      std::string row =
          "Image/" + backend->name() + "/sharing/n:" + std::to_string(config.sharing_instances);
      if (!published.ok()) {
        RegisterFailingRow(bench, row,
                           "the images could not be published: " + published.error().message());
        continue;
      }
      std::string guest = published->guest, alt = published->alt;
      int n = config.sharing_instances;
      bench
          .Register(row,
                    [backend, guest, alt, n](benchmark::State& state) {
                      for (auto _ : state)
                        if (!Sharing(state, *backend, guest, alt, n)) break;
                    })
          ->Iterations(1)
          ->UseManualTime()
          ->Unit(benchmark::kMillisecond);
    }
  }
  // Afterwards nothing pulled here stays in a store but what the next run reuses: the
  // stores are emptied of every image no instance uses.
  bench.cleanups.push_back([rows] {
    for (harness::Backend* backend : rows)
      if (auto evicted = backend->EvictImages(); !evicted.ok())
        std::cerr << "isobench: Image: " << backend->name() << ": " << evicted.error().message()
                  << "\n";
  });
}

}  // namespace isobench::bench
