// The isolation family's readers of stress-ng's and fio's output, on output the tools
// wrote on this host (trimmed literals).
#include "bench/isolation_tools.h"

#include <gtest/gtest.h>

namespace isobench::bench {
namespace {

// stress-ng 0.15.06 --cpu 1 --cpu-method int64 --timeout 1 --metrics-brief.
constexpr const char* kStressNg = R"(stress-ng: info:  [8116] setting to a 1 second run per stressor
stress-ng: info:  [8116] dispatching hogs: 1 cpu
stress-ng: metrc: [8116] stressor       bogo ops real time  usr time  sys time   bogo ops/s     bogo ops/s
stress-ng: metrc: [8116]                           (secs)    (secs)    (secs)   (real time) (usr+sys time)
stress-ng: metrc: [8116] cpu                2687      1.00      0.98      0.00      2687.04        2732.51
stress-ng: info:  [8116] successful run completed in 1.00s
)";

TEST(ParseStressNgRate, ReadsTheRealTimeRateOfTheStressor) {
  auto rate = ParseStressNgRate(kStressNg, "cpu");
  ASSERT_TRUE(rate.ok()) << rate.error().message();
  EXPECT_DOUBLE_EQ(*rate, 2687.04);  // real time, not usr+sys
}

TEST(ParseStressNgRate, ReadsTheOlderInfoPrefixToo) {
  std::string text = kStressNg;
  for (size_t at; (at = text.find("metrc:")) != std::string::npos;) text.replace(at, 6, "info:");
  auto rate = ParseStressNgRate(text, "cpu");
  ASSERT_TRUE(rate.ok()) << rate.error().message();
  EXPECT_DOUBLE_EQ(*rate, 2687.04);
}

TEST(ParseStressNgRate, RefusesAMissingRowAnotherStressorAndAZeroRate) {
  EXPECT_FALSE(ParseStressNgRate("stress-ng: info:  [1] dispatching hogs: 1 cpu\n", "cpu").ok());
  EXPECT_FALSE(ParseStressNgRate(kStressNg, "vm").ok());
  std::string zero = kStressNg;
  zero.replace(zero.find("2687.04"), 7, "   0.00");
  auto rate = ParseStressNgRate(zero, "cpu");
  ASSERT_FALSE(rate.ok());
  EXPECT_NE(rate.error().message().find("rate is 0.00"), std::string::npos);
  // The header row names no stressor "cpu" and its rate is words: never a figure.
  EXPECT_FALSE(ParseStressNgRate(
                   "stress-ng: metrc: [1] stressor bogo ops real time usr time sys time\n", "cpu")
                   .ok());
}

// fio 3.33 randread 4k qd1 --output-format=json, trimmed to what is read.
constexpr const char* kFio = R"({"fio version": "fio-3.33", "jobs": [{"jobname": "randread",
  "error": 0, "read": {"io_bytes": 14553088, "total_ios": 3553, "iops": 17676.616915,
  "clat_ns": {"min": 30000, "max": 900000, "mean": 52000.5,
              "percentile": {"50.000000": 48128, "99.000000": 121344}}}}]})";

TEST(ParseFioRead, ReadsIopsAndTheP99) {
  auto read = ParseFioRead(kFio);
  ASSERT_TRUE(read.ok()) << read.error().message();
  EXPECT_DOUBLE_EQ(read->iops, 17676.616915);
  EXPECT_DOUBLE_EQ(read->p99_seconds, 121344e-9);
}

TEST(ParseFioRead, RefusesAFailedJobNoIoAndNotJson) {
  std::string failed = kFio;
  failed.replace(failed.find("\"error\": 0"), 10, "\"error\": 5");
  EXPECT_FALSE(ParseFioRead(failed).ok());
  std::string none = kFio;
  none.replace(none.find("\"total_ios\": 3553"), 17, "\"total_ios\": 0");
  EXPECT_FALSE(ParseFioRead(none).ok());
  EXPECT_FALSE(ParseFioRead("fio: pid=0, err=22/file:filesetup.c").ok());
  EXPECT_FALSE(ParseFioRead(R"({"jobs": []})").ok());
}

}  // namespace
}  // namespace isobench::bench
