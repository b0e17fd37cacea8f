#include "harness/error.h"

#include <gtest/gtest.h>

namespace isobench::harness {
namespace {

Result<int> Half(int x) {
  if (x % 2) return Error("odd: " + std::to_string(x), EINVAL);
  return x / 2;
}

Result<int> Quarter(int x) {
  ISO_ASSIGN_OR_RETURN(int h, Half(x));
  ISO_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

Result<void> NeedsEven(int x) {
  ISO_RETURN_IF_ERROR(Half(x));
  return {};
}

TEST(ErrorTest, ErrnoMessageNamesOperationArgumentAndReason) {
  Error e = Error::Errno(ENOENT, "open", "/nonexistent");
  EXPECT_EQ(e.errno_value(), ENOENT);
  EXPECT_EQ(e.message(), "open `/nonexistent`: No such file or directory");
}

TEST(ErrorTest, ContextPrefixes) {
  Error e("inner", EIO);
  e.Context("outer");
  EXPECT_EQ(e.message(), "outer: inner");
  EXPECT_EQ(e.errno_value(), EIO);
}

TEST(ErrorTest, MacrosPropagateFirstError) {
  EXPECT_EQ(*Quarter(8), 2);
  auto r = Quarter(6);  // 6 -> 3 -> odd
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "odd: 3");
  EXPECT_TRUE(NeedsEven(4).ok());
  EXPECT_FALSE(NeedsEven(5).ok());
}

TEST(ErrorTest, ResultContextOnlyTouchesErrors) {
  auto ok = Half(4).Context("halving");
  EXPECT_EQ(*ok, 2);
  auto bad = Half(3).Context("halving");
  EXPECT_EQ(bad.error().message(), "halving: odd: 3");
}

TEST(ErrorTest, ValueOrThrowThrowsWithMessage) {
  EXPECT_EQ(Half(10).ValueOrThrow(), 5);
  try {
    Half(1).ValueOrThrow();
    FAIL() << "expected a throw";
  } catch (const ErrorException& e) {
    EXPECT_STREQ(e.what(), "odd: 1");
    EXPECT_EQ(e.error().errno_value(), EINVAL);
  }
}

}  // namespace
}  // namespace isobench::harness
