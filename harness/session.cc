#include "harness/session.h"

#include <algorithm>
#include <sstream>

#include "harness/environment.h"
#include "harness/log.h"
#include "harness/run_owner.h"

namespace isobench::harness {

std::vector<std::string> SplitList(const std::string& text) {
  std::vector<std::string> items;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ','))
    if (!item.empty()) items.push_back(item);
  return items;
}

Result<Session> OpenSession(const SessionOptions& options, const BackendRegistry& registry) {
  Session session;
  session.run_id = NewRunId();
  session.registry = &registry;

  bool all =
      options.backends.empty() || (options.backends.size() == 1 && options.backends[0] == "all");
  std::vector<std::string> wanted = all ? registry.Names() : options.backends;
  for (const auto& name : wanted)
    if (!registry.Has(name)) {
      std::string known;
      for (const auto& n : registry.Names()) known += (known.empty() ? "" : ", ") + n;
      return Error("unknown backend `" + name + "` (known: " + known + ")", EINVAL);
    }

  ImageOptions image_options;
  image_options.workdir = options.workdir;
  image_options.agent_binary = options.agent.empty() ? DefaultAgentPath() : options.agent;
  image_options.kernel = options.kernel;
  image_options.extra_binaries = options.extra_binaries;
  auto boots_kernel = [&](const std::string& name) {
    return registry.Traits(name)->boots_guest_kernel;
  };
  image_options.want_vm = std::any_of(wanted.begin(), wanted.end(), boots_kernel);
  if (image_options.want_vm && all && options.kernel.empty() && !FindHostGuestKernel().ok()) {
    // With "all", a host without a guest kernel simply has no usable vm backend.
    image_options.want_vm = false;
  }
  if (image_options.want_vm) image_options.modules = options.vm_modules;
  session.image_modules = image_options.modules;
  auto image = BuildImage(image_options);
  if (!image.ok()) return std::move(image).error();
  session.image = std::move(*image);

  BackendContext context;
  context.workdir = options.workdir;
  context.image = session.image;
  context.run_id = session.run_id;
  context.options = options.backend_options;

  session.environment = CaptureEnvironment();
  session.environment["run.id"] = session.run_id;
  session.environment["image.hash"] = session.image.hash;
  if (!session.image.kernel_release.empty())
    session.environment["image.kernel_release"] = session.image.kernel_release;
  if (!session.image.kernel_source.empty()) {
    session.environment["image.kernel"] = session.image.kernel_source;
    session.environment["image.kernel_modules"] =
        session.image.kernel_monolithic ? "built in" : "loaded at boot";
  }

  if (options.reclaim_stale) {
    auto reclaimed = ReclaimStaleScratch(options.workdir, session.run_id);
    if (!reclaimed.ok())
      ISO_LOG(kWarning) << "reclaiming stale scratch directories failed: "
                        << reclaimed.error().message();
    else if (*reclaimed > 0)
      ISO_LOG(kWarning) << "reclaimed " << *reclaimed
                        << " scratch director(ies) left behind by an earlier run";
  }

  for (const auto& name : wanted) {
    if (boots_kernel(name) && !image_options.want_vm) {
      session.unusable.push_back({name,
                                  "no guest kernel: /boot/vmlinuz-* not found "
                                  "(install linux-image-amd64)",
                                  /*absent=*/true});
      continue;
    }
    auto backend = registry.Make(name, context);
    Availability availability;
    if (backend.ok()) {
      availability = (*backend)->Probe();
    } else {
      availability = {false, backend.error().message()};
    }
    if (!availability.usable) {
      if (!all)
        return Error("backend `" + name + "` is not usable here: " + availability.reason, ENODEV);
      ISO_LOG(kInfo) << "backend " << name << " skipped: " << availability.reason;
      session.unusable.push_back({name, availability.reason, availability.absent});
      continue;
    }
    if (!availability.reason.empty())
      ISO_LOG(kInfo) << "backend " << name << ": " << availability.reason;
    if (options.reclaim_stale) {
      auto reclaimed = (*backend)->ReclaimStale();
      if (!reclaimed.ok()) {
        ISO_LOG(kWarning) << "backend " << name
                          << ": reclaiming leftovers failed: " << reclaimed.error().message();
      } else if (*reclaimed > 0) {
        ISO_LOG(kWarning) << "backend " << name << ": reclaimed " << *reclaimed
                          << " object(s) left behind by an earlier run";
      }
    }
    for (auto& [k, v] : (*backend)->Describe()) session.environment[k] = v;
    session.backends.push_back(std::move(*backend));
  }
  if (session.backends.empty() && !options.allow_no_backend) {
    std::string why;
    for (const auto& u : session.unusable) why += "; " + u.name + ": " + u.reason;
    return Error("no usable backend" + why, ENODEV);
  }
  return session;
}

}  // namespace isobench::harness
