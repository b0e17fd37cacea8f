// LibvirtConnection against libvirt's in-process test driver (test:///default) and
// against URIs that cannot answer.
#include "vm/connection.h"

#include <gtest/gtest.h>

namespace isobench::vm {
namespace {

constexpr const char* kTestUri = "test:///default";

TEST(ConnectionTest, OpensTheTestDriver) {
  auto conn = LibvirtConnection::Open(kTestUri);
  ASSERT_TRUE(conn.ok()) << conn.error().message();
  EXPECT_TRUE(conn->valid());
  EXPECT_TRUE(conn->IsAlive());
  EXPECT_EQ(conn->uri(), kTestUri);
  auto type = conn->DriverType();
  ASSERT_TRUE(type.ok()) << type.error().message();
  EXPECT_EQ(*type, "TEST");
  auto version = conn->LibvirtVersion();
  ASSERT_TRUE(version.ok()) << version.error().message();
  EXPECT_EQ(std::count(version->begin(), version->end(), '.'), 2) << *version;
  auto names = conn->ListAllDomainNames();
  ASSERT_TRUE(names.ok()) << names.error().message();
  // The test driver starts with one running domain called "test".
  EXPECT_NE(std::find(names->begin(), names->end(), "test"), names->end());
}

TEST(ConnectionTest, UnreachableDaemonIsAClearError) {
  const std::string uri = "qemu+unix:///system?socket=/nonexistent/libvirt-sock";
  auto conn = LibvirtConnection::Open(uri);
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.error().message().rfind("cannot connect to libvirt at " + uri + ": ", 0), 0u)
      << conn.error().message();
  // libvirt's own words about the socket follow.
  EXPECT_NE(conn.error().message().find("/nonexistent/libvirt-sock"), std::string::npos)
      << conn.error().message();
  EXPECT_EQ(conn.error().errno_value(), ECONNREFUSED);
}

TEST(ConnectionTest, UnknownDriverIsAClearError) {
  auto conn = LibvirtConnection::Open("nosuchdriver:///system");
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(
      conn.error().message().rfind("cannot connect to libvirt at nosuchdriver:///system: ", 0), 0u)
      << conn.error().message();
}

TEST(ConnectionTest, MoveTransfersOwnership) {
  auto opened = LibvirtConnection::Open(kTestUri);
  ASSERT_TRUE(opened.ok());
  LibvirtConnection a = std::move(*opened);
  LibvirtConnection b(std::move(a));
  EXPECT_FALSE(a.valid());  // NOLINT(bugprone-use-after-move): documented moved-from state
  EXPECT_TRUE(b.valid());
  LibvirtConnection c;
  c = std::move(b);
  EXPECT_TRUE(c.valid());
  c.Close();
  EXPECT_FALSE(c.valid());
  c.Close();  // idempotent
}

TEST(ConnectionTest, LibvirtErrorCarriesLibvirtsMessageAndAnErrno) {
  auto conn = LibvirtConnection::Open(kTestUri);
  ASSERT_TRUE(conn.ok());
  ASSERT_EQ(virDomainLookupByName(conn->get(), "no-such-domain"), nullptr);
  EXPECT_EQ(LastLibvirtErrorCode(), VIR_ERR_NO_DOMAIN);
  auto error = LibvirtError("virDomainLookupByName", "no-such-domain");
  EXPECT_EQ(error.errno_value(), ENOENT);
  EXPECT_EQ(error.message().rfind("virDomainLookupByName `no-such-domain`: ", 0), 0u)
      << error.message();
  EXPECT_NE(error.message().find("no-such-domain"), std::string::npos);
}

TEST(ConnectionTest, FormatsPackedVersions) {
  EXPECT_EQ(FormatLibvirtVersion(9000000), "9.0.0");
  EXPECT_EQ(FormatLibvirtVersion(7002022), "7.2.22");
}

}  // namespace
}  // namespace isobench::vm
