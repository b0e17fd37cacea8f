// isobench-vm-boot-timing: boots the same guest N times through libvirt ("vm") and
// through bare qemu ("qemu-raw"), one at a time, and prints each boot's phases and the
// medians. A diagnostic for the vm backend, not a benchmark (bench/ owns those).
//
//   isobench-vm-boot-timing [--boots N] [--uri URI] [--accel auto|kvm|tcg]
//                           [--workdir DIR] [--only vm|qemu-raw] [--parallel N]
//
// --parallel N boots N guests at once per round (density-style), then destroys them.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "harness/backend.h"
#include "harness/image.h"
#include "vm/raw_qemu.h"
#include "vm/vm_backend.h"

namespace {

using isobench::harness::BackendContext;

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int Run(int argc, char** argv) {
  int boots = 5;
  int parallel = 1;
  std::string uri = "qemu:///system", accel, workdir = "/var/lib/isobench", only;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--boots")
      boots = std::max(1, std::atoi(value.c_str()));
    else if (flag == "--uri")
      uri = value;
    else if (flag == "--accel")
      accel = value;
    else if (flag == "--workdir")
      workdir = value;
    else if (flag == "--only")
      only = value;
    else if (flag == "--parallel")
      parallel = std::max(1, std::atoi(value.c_str()));
    else {
      std::cerr << "unknown flag " << flag << "\n";
      return 2;
    }
  }
  isobench::harness::ImageOptions image_options;
  image_options.workdir = workdir;
  image_options.agent_binary = isobench::harness::DefaultAgentPath();
  auto image = isobench::harness::BuildImage(image_options);
  if (!image.ok()) {
    std::cerr << image.error().message() << "\n";
    return 1;
  }
  BackendContext context;
  context.workdir = workdir;
  context.image = *image;
  context.run_id = isobench::harness::NewRunId();
  context.options["vm.uri"] = uri;
  if (!accel.empty()) context.options["vm.accel"] = accel;

  isobench::harness::BackendRegistry registry;
  isobench::vm::RegisterVmBackend(registry);
  isobench::vm::RegisterRawQemuBackend(registry);
  for (const std::string& name : registry.Names()) {
    if (!only.empty() && name != only) continue;
    auto backend = registry.Make(name, context);
    if (!backend.ok()) {
      std::cerr << name << ": " << backend.error().message() << "\n";
      return 1;
    }
    auto availability = (*backend)->Probe();
    if (!availability.usable) {
      std::cerr << name << ": not usable: " << availability.reason << "\n";
      continue;
    }
    std::cout << name << " (" << availability.reason << ")\n";
    std::map<std::string, std::vector<double>> phases;
    std::vector<std::string> order;
    std::vector<double> cpu, destroy;
    for (int b = 0; b < boots; ++b) {
      std::vector<isobench::harness::Result<std::unique_ptr<isobench::harness::Instance>>> made;
      for (int p = 0; p < parallel; ++p) made.emplace_back(isobench::harness::Error("not started"));
      std::vector<std::thread> threads;
      for (int p = 0; p < parallel; ++p)
        threads.emplace_back([&, p] {
          isobench::harness::InstanceSpec spec;
          spec.name = "timing-" + std::to_string(b) + "-" + std::to_string(p);
          made[p] = (*backend)->Create(spec);
        });
      for (auto& t : threads) t.join();
      bool failed = false;
      for (int p = 0; p < parallel; ++p) {
        if (!made[p].ok()) {
          std::cerr << name << ": " << made[p].error().message() << "\n";
          failed = true;
          continue;
        }
        const auto& timing = (*made[p])->startup();
        std::printf("  boot %d.%d:", b, p);
        for (const auto& ph : timing.phases) {
          std::printf(" %s=%.3f", ph.name.c_str(), ph.seconds);
          if (!phases.count(ph.name)) order.push_back(ph.name);
          phases[ph.name].push_back(ph.seconds);
        }
        cpu.push_back(timing.host_cpu_seconds);
        std::printf(" qemu_cpu=%.2f\n", timing.host_cpu_seconds);
      }
      auto t = isobench::harness::Clock::now();
      for (auto& m : made)
        if (m.ok()) {
          auto destroyed = (*m)->Destroy();
          if (!destroyed.ok()) {
            std::cerr << destroyed.error().message() << "\n";
            failed = true;
          }
        }
      destroy.push_back(isobench::harness::SecondsBetween(t, isobench::harness::Clock::now()));
      if (failed) return 1;
    }
    std::printf("  median:");
    for (const auto& p : order) std::printf(" %s=%.3f", p.c_str(), Median(phases[p]));
    std::printf(" qemu_cpu=%.2f destroy=%.2f\n", Median(cpu), Median(destroy));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return Run(argc, argv); }
