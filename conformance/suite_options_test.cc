#include "conformance/suite_options.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <string>
#include <vector>

#include "harness/test_argv.h"

namespace isobench::conformance {
namespace {

using Argv = harness::TestArgv;

TEST(ParseSuiteOptions, FlagsOptionsAndWhatIsLeft) {
  Argv a({"isobench_conformance", "--backends=vm,runc", "left", "--mutation_backend=",
          "--option=vm.ready_timeout_s=90", "--option", "container.userns_map=1", "--vm-accel=kvm",
          "--require=docker", "--verdicts_out", "/tmp/v.json"});
  auto o = ParseSuiteOptions(&a.argc, a.pointers.data());
  ASSERT_TRUE(o.ok()) << o.error().message();
  EXPECT_EQ(o->backends, (std::vector<std::string>{"vm", "runc", "docker"}));
  EXPECT_EQ(o->require, (std::vector<std::string>{"docker"}));
  EXPECT_EQ(o->mutation_backend, "");  // `--mutation_backend=`: no mutation runs
  EXPECT_EQ(o->verdicts_out, "/tmp/v.json");
  EXPECT_EQ(o->backend_options.at("vm.ready_timeout_s"), "90");
  EXPECT_EQ(o->backend_options.at("container.userns_map"), "1");
  EXPECT_EQ(o->backend_options.at("vm.accel"), "kvm");
  EXPECT_EQ(o->workdir, "/var/lib/isobench");
  EXPECT_EQ(a.Rest(), (std::vector<std::string>{"isobench_conformance", "left"}));
}

TEST(ParseSuiteOptions, BadInputIsAnErrorNamingIt) {
  struct Case {
    std::vector<std::string> args;
    std::string says;
  } cases[] = {
      {{"x", "--bogus=1"}, "unknown flag `--bogus=1`"},
      {{"x", "--option=novalue"}, "--option wants KEY=VALUE, got `novalue`"},
      {{"x", "--require=nosuch"}, "--require: unknown backend `nosuch`"},
      {{"x", "--backends"}, "--backends"},
  };
  for (auto& c : cases) {
    Argv a(c.args);
    auto o = ParseSuiteOptions(&a.argc, a.pointers.data());
    ASSERT_FALSE(o.ok()) << c.args[1];
    EXPECT_EQ(o.error().errno_value(), EINVAL);
    EXPECT_NE(o.error().message().find(c.says), std::string::npos) << o.error().message();
  }
}

}  // namespace
}  // namespace isobench::conformance
