#include "harness/backend.h"

#include <gtest/gtest.h>

namespace isobench::harness {
namespace {

TEST(InstanceNameTest, AcceptsPlainNames) {
  for (const char* name : {"a", "startup-1", "vm_2.x", "ABC-123"})
    EXPECT_TRUE(ValidateInstanceName(name).ok()) << name;
}

TEST(InstanceNameTest, RejectsTraversalAndOddCharacters) {
  for (const char* name :
       {"", "../etc", "a/b", "..", ".hidden", "-flag", "a b", "x..y", "name\n", "ü"}) {
    auto r = ValidateInstanceName(name);
    EXPECT_FALSE(r.ok()) << name;
    if (!r.ok()) {
      EXPECT_NE(r.error().message().find("invalid instance name"), std::string::npos);
    }
  }
  EXPECT_FALSE(ValidateInstanceName(std::string(49, 'a')).ok());
  EXPECT_TRUE(ValidateInstanceName(std::string(48, 'a')).ok());
}

class FakeBackend : public Backend {
 public:
  std::string name() const override { return "fake"; }
  BackendTraits traits() const override { return {}; }
  Availability Probe() override { return {false, "fake is never usable"}; }
  std::map<std::string, std::string> Describe() override { return {}; }
  Result<std::unique_ptr<Instance>> Create(const InstanceSpec&) override {
    return Error("not implemented", ENOSYS);
  }
  Result<int> ReclaimStale() override { return 0; }
};

TEST(IoWeightTest, ZeroOrTheBlkioRange) {
  EXPECT_TRUE(ValidateIoWeight(0).ok());
  EXPECT_TRUE(ValidateIoWeight(10).ok());
  EXPECT_TRUE(ValidateIoWeight(1000).ok());
  for (uint32_t bad : {1u, 9u, 1001u, 10000u}) {
    auto r = ValidateIoWeight(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.error().message().find(std::to_string(bad)), std::string::npos);
  }
}

TEST(BackendRegistryTest, MakesKnownAndNamesUnknown) {
  BackendRegistry registry;
  registry.Register("fake", "a test double", BackendTraits{},
                    [](const BackendContext&) -> Result<std::unique_ptr<Backend>> {
                      return std::unique_ptr<Backend>(new FakeBackend);
                    });
  EXPECT_TRUE(registry.Has("fake"));
  EXPECT_EQ(registry.Description("fake"), "a test double");
  auto made = registry.Make("fake", BackendContext{});
  ASSERT_TRUE(made.ok());
  EXPECT_EQ((*made)->Probe().reason, "fake is never usable");
  auto unknown = registry.Make("hyperv", BackendContext{});
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().message(), "unknown backend `hyperv` (known: fake)");
}

TEST(RunIdTest, IsAValidNameComponent) {
  std::string id = NewRunId();
  EXPECT_TRUE(ValidateInstanceName(id).ok()) << id;
}

}  // namespace
}  // namespace isobench::harness
