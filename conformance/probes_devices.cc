// Device probes (PROBES.md 27-29): /dev holds only the default devices, and the device
// policy keeps the instance from the host's.
#include "conformance/probes_catalogue.h"

namespace isobench::conformance::catalogue {

using json = nlohmann::json;

void AddDeviceProbes(Catalogue& add) {
  add(27, "dev_contents", "/dev holds only null, zero, full, random, urandom, tty, ptmx, pts, shm",
      "devices", Needs(&S::minimal_dev, "a minimal /dev"), NoParams);
  add(28, "denied_devices", "/dev/kmsg, /dev/mem and host disks cannot be opened", "devices",
      Needs(&S::minimal_dev, "a device policy"), [](const Expectations&, HostFacts& h) {
        json devices = json::array({{{"name", "kmsg"}, {"major", 1}, {"minor", 11}},
                                    {{"name", "mem"}, {"major", 1}, {"minor", 1}}});
        for (const auto& d : h.disks())
          devices.push_back(
              {{"name", d.name}, {"type", "b"}, {"major", d.major}, {"minor", d.minor}});
        return json{{"devices", devices}};
      });
  add(29, "mknod_block", "mknod of a block device fails; no host disk in /dev", "devices",
      Needs(&S::minimal_dev, "a device policy"), [](const Expectations&, HostFacts& h) {
        const auto& d = h.disks().front();
        return json{
            {"disks",
             json::array(
                 {{{"name", d.name}, {"type", "b"}, {"major", d.major}, {"minor", d.minor}}})}};
      });
}

}  // namespace isobench::conformance::catalogue
