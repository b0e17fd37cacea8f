#include "container/idmap.h"

#include <gtest/gtest.h>

namespace isobench::container {
namespace {

TEST(IdMapTest, BaseFormIsDockerRemap) {
  auto map = ParseIdMap("100000");
  ASSERT_TRUE(map.ok()) << map.error().message();
  EXPECT_EQ(FormatIdMap(*map), "0 100000 65536\n");
  EXPECT_EQ(MapToHost(*map, 0), 100000);
  EXPECT_EQ(MapToHost(*map, 65535), 165535);
  EXPECT_EQ(MapToHost(*map, 65536), -1);
}

TEST(IdMapTest, ExplicitRanges) {
  auto map = ParseIdMap("0:200000:1,1:300000:1000");
  ASSERT_TRUE(map.ok()) << map.error().message();
  EXPECT_EQ(FormatIdMap(*map), "0 200000 1\n1 300000 1000\n");
  EXPECT_EQ(MapToHost(*map, 5), 300004);
}

TEST(IdMapTest, RejectsBadMaps) {
  auto message = [](const char* text) {
    auto map = ParseIdMap(text);
    return map.ok() ? std::string("ok") : map.error().message();
  };
  EXPECT_NE(message("abc").find("not a valid host id base"), std::string::npos);
  EXPECT_NE(message("0:1").find("is not inside:outside:count"), std::string::npos);
  EXPECT_NE(message("0:100:0").find("count 0"), std::string::npos);
  EXPECT_NE(message("0:100:10,5:1000:10").find("overlap"), std::string::npos);
  EXPECT_NE(message("0:100:10,20:105:10").find("overlap"), std::string::npos);
  EXPECT_NE(message("0:4294967295:2").find("wraps"), std::string::npos);
}

}  // namespace
}  // namespace isobench::container
