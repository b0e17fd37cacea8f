#include "harness/bench_results.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "harness/stats.h"

namespace isobench::harness {
namespace {

const std::string kTestdata = ISOBENCH_TESTDATA;

// Two repetitions and an aggregate, shaped as Google Benchmark 1.7.1 writes them,
// including the bare NaN it prints for a non-finite counter.
constexpr std::string_view kSmall = R"({
  "context": {"host_name": "vm", "num_cpus": 2, "cpu_scaling_enabled": false,
              "vm.accelerator": "tcg"},
  "benchmarks": [
    {"name": "Startup/vm/ready/repeats:2/manual_time",
     "run_name": "Startup/vm/ready/repeats:2/manual_time",
     "run_type": "iteration", "repetitions": 2, "repetition_index": 0, "threads": 1,
     "iterations": 1, "real_time": 9.1e+03, "cpu_time": 4.0e+02, "time_unit": "ms",
     "destroy_s": 0.35, "weird": NaN, "hot": -Infinity, "label": "NaN"},
    {"name": "Startup/vm/ready/repeats:2/manual_time",
     "run_name": "Startup/vm/ready/repeats:2/manual_time",
     "run_type": "iteration", "repetitions": 2, "repetition_index": 1, "threads": 1,
     "iterations": 1, "real_time": 8.9e+03, "cpu_time": 3.8e+02, "time_unit": "ms",
     "destroy_s": 0.33, "weird": 1.0, "hot": 2},
    {"name": "Startup/vm/ready/repeats:2/manual_time_cv",
     "run_name": "Startup/vm/ready/repeats:2/manual_time",
     "run_type": "aggregate", "repetitions": 2, "threads": 1, "aggregate_name": "cv",
     "aggregate_unit": "percentage", "iterations": 2, "real_time": 0.0157, "cpu_time": 0.036,
     "time_unit": "ms", "destroy_s": 0.04},
    {"name": "Startup/vm/ready/repeats:2/manual_time_mean",
     "run_name": "Startup/vm/ready/repeats:2/manual_time",
     "run_type": "aggregate", "repetitions": 2, "threads": 1, "aggregate_name": "mean",
     "aggregate_unit": "time", "iterations": 2, "real_time": 9.0e+03, "cpu_time": 3.9e+02,
     "time_unit": "ms", "destroy_s": 0.34}
  ]
})";

TEST(SplitBenchmarkNameTest, SplitsFamilyBackendParamsAndModifiers) {
  auto n = SplitBenchmarkName("Startup/vm/ready/iterations:1/repeats:3/manual_time");
  ASSERT_TRUE(n.ok()) << n.error().message();
  EXPECT_EQ(n->family, "Startup");
  EXPECT_EQ(n->backend, "vm");
  EXPECT_EQ(n->params, "ready");
  EXPECT_EQ(n->modifiers, "iterations:1/repeats:3/manual_time");
  EXPECT_EQ(n->CaseKey(), "Startup/ready");
}

TEST(SplitBenchmarkNameTest, KeepsUserArgumentsAndSlashes) {
  auto n = SplitBenchmarkName("Io/container/randread/bs:4096/threads:2");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->params, "randread/bs:4096");
  EXPECT_EQ(n->modifiers, "threads:2");

  auto bare = SplitBenchmarkName("Startup/qemu-raw");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->backend, "qemu-raw");
  EXPECT_EQ(bare->params, "");
  EXPECT_EQ(bare->CaseKey(), "Startup");
}

TEST(SplitBenchmarkNameTest, RejectsOtherShapes) {
  EXPECT_FALSE(SplitBenchmarkName("BM_Foo").ok());
  EXPECT_FALSE(SplitBenchmarkName("BM_Foo/real_time").ok());
  EXPECT_FALSE(SplitBenchmarkName("Startup//ready").ok());
  EXPECT_FALSE(SplitBenchmarkName("").ok());
  auto bad = SplitBenchmarkName("BM_Foo");
  EXPECT_NE(bad.error().message().find("Family/backend/params"), std::string::npos);
}

TEST(TimeUnitTest, Units) {
  EXPECT_DOUBLE_EQ(*TimeUnitSeconds("ns"), 1e-9);
  EXPECT_DOUBLE_EQ(*TimeUnitSeconds("us"), 1e-6);
  EXPECT_DOUBLE_EQ(*TimeUnitSeconds("ms"), 1e-3);
  EXPECT_DOUBLE_EQ(*TimeUnitSeconds("s"), 1.0);
  EXPECT_FALSE(TimeUnitSeconds("min").ok());
}

TEST(ParseTest, SamplesCountersAggregatesAndContext) {
  auto r = ParseBenchmarkResults(kSmall, "small.json");
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->source, "small.json");
  EXPECT_EQ(r->ContextValue("host_name"), "vm");
  EXPECT_EQ(r->ContextValue("num_cpus"), "2");
  EXPECT_EQ(r->ContextValue("cpu_scaling_enabled"), "false");
  EXPECT_EQ(r->ContextValue("vm.accelerator"), "tcg");
  EXPECT_EQ(r->ContextValue("absent", "-"), "-");
  ASSERT_EQ(r->runs.size(), 1u);

  const RunSamples* run = r->Find("Startup/vm/ready/repeats:2/manual_time");
  ASSERT_NE(run, nullptr);
  EXPECT_EQ(run->name.backend, "vm");
  EXPECT_EQ(run->time_unit, "ms");
  EXPECT_EQ(run->repetitions, 2);
  ASSERT_EQ(run->real_time_s.size(), 2u);
  EXPECT_DOUBLE_EQ(run->real_time_s[0], 9.1);
  EXPECT_DOUBLE_EQ(run->cpu_time_s[1], 0.38);
  EXPECT_EQ(run->iterations[1], 1);

  ASSERT_NE(run->Counter("destroy_s"), nullptr);
  EXPECT_EQ(*run->Counter("destroy_s"), (std::vector<double>{0.35, 0.33}));
  EXPECT_TRUE(std::isnan(run->Counter("weird")->at(0)));
  EXPECT_EQ(run->Counter("hot")->at(0), -INFINITY);
  EXPECT_EQ(run->Counter("label"), nullptr);                  // a string field, not a counter
  EXPECT_EQ(run->labels, (std::vector<std::string>{"NaN"}));  // kept as text, once
  EXPECT_EQ(run->Counter("repetition_index"), nullptr);

  ASSERT_EQ(run->aggregates.count("cv"), 1u);
  EXPECT_EQ(run->aggregates.at("cv").unit, "percentage");
  EXPECT_DOUBLE_EQ(run->aggregates.at("cv").real_time, 0.0157);  // a fraction, not ms
  EXPECT_DOUBLE_EQ(run->aggregates.at("mean").real_time, 9.0);
  EXPECT_DOUBLE_EQ(run->aggregates.at("mean").counters.at("destroy_s"), 0.34);
}

TEST(ParseTest, FailedRepetitionsAreErrorsNotSamples) {
  auto r = ParseBenchmarkResults(R"({"benchmarks": [
    {"name": "Startup/vm/ready", "run_name": "Startup/vm/ready", "run_type": "iteration",
     "repetitions": 1, "repetition_index": 0, "threads": 1,
     "error_occurred": true, "error_message": "no usable accelerator",
     "iterations": 0, "real_time": 0, "cpu_time": 0, "time_unit": "ns"}]})",
                                 "err.json");
  ASSERT_TRUE(r.ok()) << r.error().message();
  ASSERT_EQ(r->runs.size(), 1u);
  EXPECT_TRUE(r->runs[0].real_time_s.empty());
  EXPECT_EQ(r->runs[0].errors, std::vector<std::string>{"no usable accelerator"});
}

TEST(ParseTest, OldFormatWithoutRunNameOrRunType) {
  auto r = ParseBenchmarkResults(R"({"benchmarks": [
    {"name": "BM_Legacy", "iterations": 100, "real_time": 5, "cpu_time": 4, "time_unit": "us"}]})",
                                 "old.json");
  ASSERT_TRUE(r.ok()) << r.error().message();
  ASSERT_EQ(r->runs.size(), 1u);
  EXPECT_EQ(r->runs[0].run_name, "BM_Legacy");
  EXPECT_EQ(r->runs[0].name.family, "");  // not Family/backend/params: left empty
  EXPECT_DOUBLE_EQ(r->runs[0].real_time_s[0], 5e-6);
  EXPECT_TRUE(r->context.empty());
}

struct BadInput {
  const char* label;
  const char* text;
  const char* expected;  // substring of the error message
};

class MalformedTest : public testing::TestWithParam<BadInput> {};

TEST_P(MalformedTest, GivesErrorNamingFileAndField) {
  auto r = ParseBenchmarkResults(GetParam().text, "bad.json");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("bad.json: "), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find(GetParam().expected), std::string::npos)
      << r.error().message();
}

INSTANTIATE_TEST_SUITE_P(
    Inputs, MalformedTest,
    testing::Values(
        BadInput{"empty", "", "not valid JSON"},
        BadInput{"truncated", R"({"context": {}, "benchmarks": [{"name": "a", "real_)",
                 "not valid JSON"},
        BadInput{"number_beyond_double", R"({"benchmarks": [{"name": "a", "real_time": 1e999}]})",
                 "not valid JSON"},
        BadInput{"top_array", "[1, 2]", "top level: expected an object, got array"},
        BadInput{"no_benchmarks", R"({"context": {}})", "benchmarks: missing"},
        BadInput{"benchmarks_object", R"({"benchmarks": {}})",
                 "benchmarks: expected an array, got object"},
        BadInput{"context_string", R"({"context": "x", "benchmarks": []})",
                 "context: expected an object, got string"},
        BadInput{"record_number", R"({"benchmarks": [3]})",
                 "benchmarks[0]: expected an object, got number"},
        BadInput{"name_missing", R"({"benchmarks": [{"real_time": 1}]})",
                 "benchmarks[0].name: missing"},
        BadInput{"name_number", R"({"benchmarks": [{"name": 7}]})",
                 "benchmarks[0].name: expected a string, got number"},
        BadInput{"real_time_string",
                 R"({"benchmarks": [{"name": "a", "iterations": 1, "real_time": "fast",
                     "cpu_time": 1, "time_unit": "ns"}]})",
                 "benchmarks[0].real_time: expected a number, got string"},
        BadInput{"cpu_time_missing",
                 R"({"benchmarks": [{"name": "a", "iterations": 1, "real_time": 1,
                     "time_unit": "ns"}]})",
                 "benchmarks[0].cpu_time: missing"},
        BadInput{"unit_unknown",
                 R"({"benchmarks": [{"name": "a", "iterations": 1, "real_time": 1,
                     "cpu_time": 1, "time_unit": "fortnight"}]})",
                 "benchmarks[0].time_unit: unknown time unit \"fortnight\""},
        BadInput{"iterations_fraction",
                 R"({"benchmarks": [{"name": "a", "iterations": 1.5, "real_time": 1,
                     "cpu_time": 1, "time_unit": "ns"}]})",
                 "benchmarks[0].iterations: expected an integer, got number"},
        BadInput{"run_type_unknown", R"({"benchmarks": [{"name": "a", "run_type": "warmup"}]})",
                 "benchmarks[0].run_type: expected \"iteration\" or \"aggregate\""},
        BadInput{"error_flag_string", R"({"benchmarks": [{"name": "a", "error_occurred": "yes"}]})",
                 "benchmarks[0].error_occurred: expected true or false, got string"},
        BadInput{"aggregate_without_name",
                 R"({"benchmarks": [{"name": "a", "run_type": "aggregate", "real_time": 1}]})",
                 "benchmarks[0].aggregate_name: missing"},
        BadInput{"threads_null", R"({"benchmarks": [{"name": "a", "threads": null}]})",
                 "benchmarks[0].threads: expected an integer, got null"}),
    [](const testing::TestParamInfo<BadInput>& info) { return std::string(info.param.label); });

// Whatever a killed benchmark leaves behind, the loader answers with an Error.
TEST(ParseTest, EveryTruncationIsAnErrorNotACrash) {
  for (std::size_t len = 0; len < kSmall.size() - 1; ++len) {
    auto r = ParseBenchmarkResults(kSmall.substr(0, len), "cut.json");
    if (!r.ok()) {
      EXPECT_EQ(r.error().message().rfind("cut.json: ", 0), 0u) << r.error().message();
    }
  }
  EXPECT_TRUE(ParseBenchmarkResults(kSmall, "whole.json").ok());
}

TEST(LoadTest, MissingFileNamesPath) {
  auto r = LoadBenchmarkResults(kTestdata + "/does_not_exist.json");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("does_not_exist.json"), std::string::npos);
  EXPECT_EQ(r.error().errno_value(), ENOENT);
}

TEST(LoadTest, DirectoryIsAnError) {
  auto r = LoadBenchmarkResults(kTestdata);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().errno_value(), EISDIR);
  EXPECT_NE(r.error().message().find(kTestdata), std::string::npos) << r.error().message();
}

// The synthetic startup file the report tests also use.
TEST(LoadTest, StartupTestdata) {
  auto r = LoadBenchmarkResults(kTestdata + "/startup_results.json");
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->ContextValue("vm.accelerator"), "tcg");
  EXPECT_EQ(r->ContextValue("env.cgroup_mode"), "hybrid");

  const RunSamples* container =
      r->Find("Startup/container/ready/iterations:1/repeats:20/manual_time");
  const RunSamples* vm = r->Find("Startup/vm/ready/iterations:1/repeats:3/manual_time");
  ASSERT_NE(container, nullptr);
  ASSERT_NE(vm, nullptr);
  EXPECT_EQ(container->real_time_s.size(), 20u);
  EXPECT_EQ(vm->real_time_s.size(), 3u);
  EXPECT_NEAR(Median(container->real_time_s), 3e-3, 1e-3);
  EXPECT_NEAR(Median(vm->real_time_s), 9.0, 1.0);
  // Google Benchmark's own median aggregate agrees with ours.
  EXPECT_NEAR(vm->aggregates.at("median").real_time, Median(vm->real_time_s), 1e-9);
  ASSERT_NE(vm->Counter("phase_kernel_s"), nullptr);
  EXPECT_EQ(vm->Counter("phase_kernel_s")->size(), 3u);
  ASSERT_NE(container->Counter("destroy_s"), nullptr);
  EXPECT_EQ(container->name.CaseKey(), vm->name.CaseKey());

  // The ready phase ends when the sample ends.
  for (std::size_t i = 0; i < vm->real_time_s.size(); ++i) {
    EXPECT_NEAR(vm->Counter("phase_ready_s")->at(i), vm->real_time_s[i], 1e-6);
  }
}

}  // namespace
}  // namespace isobench::harness
