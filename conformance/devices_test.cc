// Device probes (PROBES.md 27-29) on every target.
#include "conformance/suite.h"

namespace isobench::conformance {
namespace {

class DeviceProbes : public ProbeTest {};

TEST_P(DeviceProbes, P27_MinimalDev) { Check("dev_contents"); }
TEST_P(DeviceProbes, P28_DeniedDevicesUnopenable) { Check("denied_devices"); }
TEST_P(DeviceProbes, P29_NoBlockDevices) { Check("mknod_block"); }

INSTANTIATE_TEST_SUITE_P(Targets, DeviceProbes, ::testing::ValuesIn(ProbeTargets()), TargetName);

}  // namespace
}  // namespace isobench::conformance
