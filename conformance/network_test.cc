// Network probes (PROBES.md 6, 7, 43, and the suite's 46) on every target.
#include "conformance/suite.h"

namespace isobench::conformance {
namespace {

class NetworkProbes : public ProbeTest {};

TEST_P(NetworkProbes, P06_OnlyLoopback) { Check("interfaces"); }
TEST_P(NetworkProbes, P07_HostUnixSocketsInvisible) { Check("unix_sockets"); }
TEST_P(NetworkProbes, P43_HostOnlyAddressesUnreachable) { Check("host_addresses"); }
TEST_P(NetworkProbes, P46_NeighboursUnreachable) { Check("neighbours"); }

INSTANTIATE_TEST_SUITE_P(Targets, NetworkProbes, ::testing::ValuesIn(ProbeTargets()), TargetName);

}  // namespace
}  // namespace isobench::conformance
