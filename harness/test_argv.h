// argv as main() gets it, from strings a test owns, for tests of flag parsers that
// take their flags out of argv in place.
//
//   TestArgv a({"prog", "--quick", "rest"});
//   auto flags = ParseBenchFlags(&a.argc, a.pointers.data());
//   EXPECT_EQ(a.Rest(), (std::vector<std::string>{"prog", "rest"}));
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace isobench::harness {

struct TestArgv {
  explicit TestArgv(std::vector<std::string> args) : strings(std::move(args)) {
    for (auto& s : strings) pointers.push_back(s.data());
    pointers.push_back(nullptr);
    argc = static_cast<int>(strings.size());
  }
  // What the parser left in argv[0..argc).
  std::vector<std::string> Rest() const { return {pointers.begin(), pointers.begin() + argc}; }
  std::vector<std::string> strings;
  std::vector<char*> pointers;
  int argc;
};

}  // namespace isobench::harness
