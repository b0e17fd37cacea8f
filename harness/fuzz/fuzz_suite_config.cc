// libFuzzer target: the suite file parser (TOML via toml++). Any input must give a
// SuiteConfig or an Error naming the problem; never an exception, crash or UB.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "bench/suite_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto suite = isobench::bench::ParseSuiteConfig(text, "fuzz.toml");
  if (!suite.ok() && suite.error().message().empty()) __builtin_trap();  // errors must say why
  return 0;
}
