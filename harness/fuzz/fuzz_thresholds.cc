// libFuzzer target: the regression-gate threshold file parser (TOML).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "harness/compare.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto thresholds = isobench::harness::ParseThresholds(text, "fuzz.toml");
  if (!thresholds.ok() && thresholds.error().message().empty()) __builtin_trap();
  return 0;
}
