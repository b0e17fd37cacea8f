// The traits each built-in backend declares are the ones shared code relies on (the
// session's guest-kernel decision, the benchmark families' slow rows and reference rows,
// the conformance suite's target list, the report's kinds), and a backend's traits()
// says the same as its registry entry.
#include <gtest/gtest.h>

#include "harness/backend.h"
#include "harness/cli/builtin_backends.h"
#include "harness/host_backend.h"

#ifdef ISOBENCH_HAVE_CONTAINER
#include "container/container_backend.h"
#endif
#ifdef ISOBENCH_HAVE_VM
#include "vm/raw_qemu.h"
#include "vm/vm_backend.h"
#endif
#ifdef ISOBENCH_HAVE_OCI
#include "container/oci/oci_backend.h"
#endif
#ifdef ISOBENCH_HAVE_DOCKER
#include "container/docker/docker_backend.h"
#endif

namespace isobench::harness {
namespace {

using Kind = BackendTraits::Kind;
using Role = BackendTraits::Role;

// The registry's record, which must exist.
BackendTraits Registered(const BackendRegistry& registry, const std::string& name) {
  const BackendTraits* traits = registry.Traits(name);
  EXPECT_NE(traits, nullptr) << "`" << name << "` is not registered";
  return traits ? *traits : BackendTraits{};
}

// A context whose factories construct without touching the host (no daemon, no cgroup).
BackendContext QuietContext() {
  BackendContext context;
  context.workdir = ::testing::TempDir() + "/traits";
  context.run_id = "20260101T000000-1";
  return context;
}

// Where the factory constructs without side effects, the made backend says the same.
void ExpectMadeAgrees(const BackendRegistry& registry, const std::string& name) {
  auto made = registry.Make(name, QuietContext());
  ASSERT_TRUE(made.ok()) << name << ": " << made.error().message();
  EXPECT_EQ((*made)->name(), name);
  EXPECT_EQ((*made)->traits(), Registered(registry, name)) << name;
}

TEST(BackendTraitsTest, HostIsTheFloor) {
  HostBackend host(QuietContext());
  BackendTraits t = host.traits();
  EXPECT_EQ(t, HostTraits());
  EXPECT_EQ(t.kind, Kind::kHost);
  EXPECT_EQ(t.role, Role::kFloor);
  EXPECT_TRUE(t.reference());
  EXPECT_FALSE(t.slow_start);
  EXPECT_FALSE(t.boots_guest_kernel);
  EXPECT_FALSE(t.hardened_profile);
  EXPECT_FALSE(t.runtime_default_profile);
}

TEST(BackendTraitsTest, WordsCarriedByResults) {
  EXPECT_EQ(KindName(Kind::kHost), "host");
  EXPECT_EQ(KindName(Kind::kContainer), "container");
  EXPECT_EQ(KindName(Kind::kVm), "vm");
  EXPECT_EQ(RoleName(Role::kProduct), "product");
  EXPECT_EQ(RoleName(Role::kReference), "reference");
  EXPECT_EQ(RoleName(Role::kFloor), "floor");
}

TEST(BackendTraitsTest, RegistryKnowsNoTraitsOfUnknownNames) {
  EXPECT_EQ(BuiltinBackends().Traits("hyperv"), nullptr);
}

#ifdef ISOBENCH_HAVE_CONTAINER
TEST(BackendTraitsTest, NativeContainerIsAProductWithTheHardenedProfile) {
  // Not made here: its factory and destructor touch cgroups and the bridge.
  BackendTraits t = Registered(BuiltinBackends(), "container");
  EXPECT_EQ(t, container::ContainerTraits());
  EXPECT_EQ(t.kind, Kind::kContainer);
  EXPECT_EQ(t.role, Role::kProduct);
  EXPECT_FALSE(t.reference());
  EXPECT_FALSE(t.slow_start);
  EXPECT_FALSE(t.boots_guest_kernel);
  EXPECT_TRUE(t.supports_volumes);
  EXPECT_TRUE(t.hardened_profile);
  EXPECT_FALSE(t.oci_runtime);
  EXPECT_FALSE(t.runtime_default_profile);
}
#endif

#ifdef ISOBENCH_HAVE_VM
TEST(BackendTraitsTest, VmBootsAGuestKernelAndIsSlow) {
  BackendTraits t = Registered(BuiltinBackends(), "vm");
  EXPECT_EQ(t, vm::VmTraits());
  EXPECT_EQ(t.kind, Kind::kVm);
  EXPECT_EQ(t.role, Role::kProduct);
  EXPECT_TRUE(t.boots_guest_kernel);
  EXPECT_TRUE(t.slow_start);
  EXPECT_FALSE(t.supports_volumes);
  EXPECT_FALSE(t.hardened_profile);
  EXPECT_FALSE(t.runtime_default_profile);
  EXPECT_FALSE(t.oci_runtime);
  ExpectMadeAgrees(BuiltinBackends(), "vm");
}

TEST(BackendTraitsTest, RawQemuIsTheVmFloor) {
  EXPECT_FALSE(BuiltinBackends().Has("qemu-raw"));  // a reference, never "every backend"
  BackendTraits t = Registered(ReferenceBackends(), "qemu-raw");
  EXPECT_EQ(t, vm::RawQemuTraits());
  EXPECT_EQ(t.kind, Kind::kVm);
  EXPECT_EQ(t.role, Role::kFloor);
  EXPECT_TRUE(t.reference());
  EXPECT_TRUE(t.boots_guest_kernel);
  EXPECT_TRUE(t.slow_start);
  EXPECT_FALSE(t.supports_volumes);
  ExpectMadeAgrees(ReferenceBackends(), "qemu-raw");
}
#endif

#ifdef ISOBENCH_HAVE_OCI
TEST(BackendTraitsTest, OciRuntimesHaveTheirOwnDefaultProfile) {
  for (const char* name : {"runc", "crun", "oci"}) {
    SCOPED_TRACE(name);
    BackendTraits t = Registered(BuiltinBackends(), name);
    EXPECT_EQ(t, container::oci::OciTraits(name));
    EXPECT_EQ(t.kind, Kind::kContainer);
    EXPECT_TRUE(t.oci_runtime);
    EXPECT_TRUE(t.hardened_profile);
    EXPECT_TRUE(t.runtime_default_profile);
    EXPECT_TRUE(t.supports_volumes);
    EXPECT_FALSE(t.slow_start);
    EXPECT_FALSE(t.boots_guest_kernel);
    ExpectMadeAgrees(BuiltinBackends(), name);
  }
  // runc and crun are the yardsticks of the native runtime; any other runtime a product.
  EXPECT_EQ(Registered(BuiltinBackends(), "runc").role, Role::kReference);
  EXPECT_EQ(Registered(BuiltinBackends(), "crun").role, Role::kReference);
  EXPECT_EQ(Registered(BuiltinBackends(), "oci").role, Role::kProduct);
}
#endif

#ifdef ISOBENCH_HAVE_DOCKER
TEST(BackendTraitsTest, DockerIsAProductWithItsOwnDefaultProfile) {
  BackendTraits t = Registered(BuiltinBackends(), "docker");
  EXPECT_EQ(t, container::docker::DockerTraits());
  EXPECT_EQ(t.kind, Kind::kContainer);
  EXPECT_EQ(t.role, Role::kProduct);
  EXPECT_TRUE(t.runtime_default_profile);
  EXPECT_TRUE(t.supports_volumes);
  EXPECT_FALSE(t.hardened_profile);
  EXPECT_FALSE(t.oci_runtime);
  EXPECT_FALSE(t.slow_start);
  ExpectMadeAgrees(BuiltinBackends(), "docker");
}
#endif

}  // namespace
}  // namespace isobench::harness
