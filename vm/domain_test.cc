// Domain RAII against libvirt's test driver: create, define, destroy on every path,
// metadata, name clashes.
#include "vm/domain.h"

#include <gtest/gtest.h>

#include "vm/connection.h"
#include "vm/domain_xml.h"

namespace isobench::vm {
namespace {

constexpr const char* kTestUri = "test:///default";

GuestConfig Guest(const std::string& run, const std::string& name) {
  GuestConfig g;
  g.name = DomainName(run, name);
  g.kernel = "/boot/vmlinuz";  // the test driver never opens it
  g.initrd = "/boot/initrd.img";
  g.cmdline = DefaultKernelCmdline();
  g.console_socket = "/run/isobench-vm-test/" + name + ".con";
  g.channel_socket = "/run/isobench-vm-test/" + name + ".ch";
  g.run_id = run;
  g.instance_name = name;
  return g;
}

class DomainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // test:///default keeps its state while at least one connection is open; holding
    // one for the whole test keeps the domains the code under test creates visible.
    auto conn = LibvirtConnection::Open(kTestUri);
    ASSERT_TRUE(conn.ok()) << conn.error().message();
    conn_ = std::move(*conn);
  }
  bool Exists(const std::string& name) {
    virDomainPtr d = virDomainLookupByName(conn_.get(), name.c_str());
    if (d) virDomainFree(d);
    return d != nullptr;
  }
  std::string Xml(const std::string& run, const std::string& name) {
    auto xml = BuildDomainXml(Guest(run, name));
    EXPECT_TRUE(xml.ok()) << xml.error().message();
    return *xml;
  }
  LibvirtConnection conn_;
};

TEST_F(DomainTest, TransientDomainIsDestroyedByDestroyAndIdempotently) {
  auto domain = Domain::CreateTransient(conn_, Xml("run1", "a"));
  ASSERT_TRUE(domain.ok()) << domain.error().message();
  EXPECT_EQ(domain->name(), "isobench-run1-a");
  EXPECT_TRUE(domain->IsActive());
  EXPECT_FALSE(domain->IsPersistent());
  EXPECT_TRUE(Exists("isobench-run1-a"));
  ASSERT_TRUE(domain->Destroy().ok());
  EXPECT_FALSE(domain->valid());
  EXPECT_FALSE(Exists("isobench-run1-a"));
  EXPECT_TRUE(domain->Destroy().ok());
}

TEST_F(DomainTest, DestructorDestroys) {
  {
    auto domain = Domain::CreateTransient(conn_, Xml("run1", "scoped"));
    ASSERT_TRUE(domain.ok()) << domain.error().message();
    EXPECT_TRUE(Exists("isobench-run1-scoped"));
  }
  EXPECT_FALSE(Exists("isobench-run1-scoped"));
}

TEST_F(DomainTest, MoveKeepsExactlyOneOwner) {
  auto created = Domain::CreateTransient(conn_, Xml("run1", "moved"));
  ASSERT_TRUE(created.ok());
  Domain a = std::move(*created);
  Domain b(std::move(a));
  EXPECT_FALSE(a.valid());  // NOLINT(bugprone-use-after-move)
  EXPECT_TRUE(Exists("isobench-run1-moved"));
  Domain c;
  c = std::move(b);
  EXPECT_TRUE(Exists("isobench-run1-moved"));
  // Assigning over a live handle destroys what it held.
  auto other = Domain::CreateTransient(conn_, Xml("run1", "other"));
  ASSERT_TRUE(other.ok());
  c = std::move(*other);
  EXPECT_FALSE(Exists("isobench-run1-moved"));
  EXPECT_TRUE(Exists("isobench-run1-other"));
}

TEST_F(DomainTest, DefinedDomainIsStartedThenDestroyedAndUndefined) {
  auto domain = Domain::Define(conn_, Xml("run1", "persistent"));
  ASSERT_TRUE(domain.ok()) << domain.error().message();
  EXPECT_FALSE(domain->IsActive());
  EXPECT_TRUE(domain->IsPersistent());
  ASSERT_TRUE(domain->Start().ok());
  EXPECT_TRUE(domain->IsActive());
  ASSERT_TRUE(domain->Destroy().ok());
  EXPECT_FALSE(Exists("isobench-run1-persistent")) << "the definition must go too";
}

TEST_F(DomainTest, NameClashIsEexistWithLibvirtsMessage) {
  auto first = Domain::CreateTransient(conn_, Xml("run1", "clash"));
  ASSERT_TRUE(first.ok());
  auto second = Domain::CreateTransient(conn_, Xml("run1", "clash"));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().errno_value(), EEXIST) << second.error().message();
  EXPECT_NE(second.error().message().find("already exists"), std::string::npos)
      << second.error().message();
  EXPECT_TRUE(first->IsActive()) << "the refused create must not touch the first domain";
}

TEST_F(DomainTest, MetadataIdentifiesIsobenchDomains) {
  auto domain = Domain::CreateTransient(conn_, Xml("20250101T000000-1", "meta"));
  ASSERT_TRUE(domain.ok());
  auto metadata = domain->Metadata();
  ASSERT_TRUE(metadata.ok()) << metadata.error().message();
  ASSERT_TRUE(metadata->has_value());
  EXPECT_EQ((*metadata)->run_id, "20250101T000000-1");
  EXPECT_EQ((*metadata)->instance_name, "meta");
  // The driver's own sample domain carries no isobench metadata.
  auto foreign = Domain::Lookup(conn_, "test");
  ASSERT_TRUE(foreign.ok());
  auto none = foreign->Metadata();
  ASSERT_TRUE(none.ok()) << none.error().message();
  EXPECT_FALSE(none->has_value());
  virDomainFree(foreign->Release());  // never stop what is not ours
  EXPECT_TRUE(Exists("test"));
}

TEST_F(DomainTest, LookupOfAMissingDomainIsEnoent) {
  auto domain = Domain::Lookup(conn_, "isobench-nope");
  ASSERT_FALSE(domain.ok());
  EXPECT_EQ(domain.error().errno_value(), ENOENT);
}

TEST_F(DomainTest, InvalidXmlIsLibvirtsError) {
  auto domain = Domain::CreateTransient(conn_, "<domain type='qemu'><name>x</name>");
  ASSERT_FALSE(domain.ok());
  EXPECT_EQ(domain.error().message().rfind("virDomainCreateXML: ", 0), 0u)
      << domain.error().message();
}

TEST_F(DomainTest, ShutdownAndWaitInactive) {
  auto domain = Domain::CreateTransient(conn_, Xml("run1", "acpi"));
  ASSERT_TRUE(domain.ok());
  ASSERT_TRUE(domain->ShutdownAcpi().ok());
  // The test driver powers off at once.
  EXPECT_TRUE(domain->WaitInactive(std::chrono::seconds(2)));
  EXPECT_TRUE(domain->Destroy().ok()) << "destroying a stopped domain is success";
}

}  // namespace
}  // namespace isobench::vm
