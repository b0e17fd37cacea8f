#include "bench/suite_config.h"

#include <gtest/gtest.h>

namespace isobench::bench {
namespace {

TEST(SuiteConfigTest, EmptyFileGivesDefaults) {
  auto c = ParseSuiteConfig("", "empty.toml");
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->startup.repetitions, 30);
  EXPECT_TRUE(c->io.enabled);
}

TEST(SuiteConfigTest, ReadsEveryShippedSuite) {
  for (const char* name : {"default", "quick"}) {
    auto c = LoadSuiteConfig(std::string(ISOBENCH_SUITES_DIR) + "/" + name + ".toml");
    ASSERT_TRUE(c.ok()) << c.error().message();
  }
  auto quick = LoadSuiteConfig(std::string(ISOBENCH_SUITES_DIR) + "/quick.toml");
  EXPECT_EQ(quick->startup.repetitions, 10);
  EXPECT_TRUE(quick->startup.vm_parallel.empty());
}

TEST(SuiteConfigTest, ErrorsNameFileKeyAndReason) {
  struct Case {
    const char* toml;
    const char* expected;
  } cases[] = {
      {"[startup]\nrepetitions = 0\n", "`startup.repetitions` must be between 1 and 100000"},
      {"[startup]\nrepetitions = \"many\"\n", "`startup.repetitions` must be an integer"},
      {"[startup]\nrepetitons = 3\n", "unknown key `startup.repetitons`"},
      {"[gpu]\nx = 1\n", "unknown section `gpu`"},
      {"[startup]\nparallel = [1, \"x\"]\n", "`startup.parallel` must be an array of integers"},
      {"[density]\nmemory_budget_mib = 99999999999\n", "`density.memory_budget_mib` must be between"},
      {"[startup\n", "s.toml:1:"},
      {"startup = 3\n", "`startup` must be a table"},
  };
  for (const auto& c : cases) {
    auto r = ParseSuiteConfig(c.toml, "s.toml");
    ASSERT_FALSE(r.ok()) << c.toml;
    EXPECT_NE(r.error().message().find(c.expected), std::string::npos)
        << "got: " << r.error().message();
    EXPECT_EQ(r.error().message().rfind("s.toml", 0), 0u) << r.error().message();
  }
}

TEST(SuiteConfigTest, MissingFileIsNamed) {
  auto r = LoadSuiteConfig("/nonexistent/suite.toml");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("/nonexistent/suite.toml"), std::string::npos);
}

}  // namespace
}  // namespace isobench::bench
