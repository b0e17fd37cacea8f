#include "harness/agent/agent_serve.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace isobench::agent {
namespace {

class RequestFramerTest : public ::testing::Test {
 protected:
  // Feeds `chunks` one read() each; returns whether one asked for shutdown.
  bool Feed(const std::vector<std::string>& chunks) {
    for (const auto& chunk : chunks)
      if (framer_.Feed(chunk, handlers_,
                       [this](const nlohmann::json& r) { replies_.push_back(r); }))
        return true;
    return false;
  }

  OpHandlers handlers_{
      .exec =
          [](const nlohmann::json& r) {
            return nlohmann::json{{"echo", r.at("argv").get<std::vector<std::string>>()}};
          },
      .info =
          [](const nlohmann::json&) {
            return nlohmann::json{{"mode", "container"}};
          },
      .bench = [](const nlohmann::json&) -> nlohmann::json {
        throw std::runtime_error("bench failed");
      },
      .probe = nullptr,
  };
  RequestFramer framer_;
  std::vector<nlohmann::json> replies_;
};

TEST_F(RequestFramerTest, LinesSplitAcrossReadsGetOneReplyEach) {
  EXPECT_FALSE(Feed({R"({"id":1,"op":"pi)", "ng\"}\r\n{\"id\":2,\"op\":\"info\"}\n\n{\"id\":3,",
                     R"("op":"exec","argv":["a"]})"}));
  ASSERT_EQ(replies_.size(), 2u);  // the third line is not complete yet
  EXPECT_EQ(replies_[0], (nlohmann::json{{"id", 1}, {"ok", true}}));
  EXPECT_EQ(replies_[1], (nlohmann::json{{"id", 2}, {"ok", true}, {"mode", "container"}}));
  EXPECT_FALSE(Feed({"\n"}));
  ASSERT_EQ(replies_.size(), 3u);
  EXPECT_EQ(replies_[2]["echo"], nlohmann::json::array({"a"}));
}

TEST_F(RequestFramerTest, BadRequestsGetErrorsWithTheirId) {
  Feed({"not json\n", "[1,2]\n",
        R"({"id":"x","op":null})"
        "\n",
        R"({"id":5})"
        "\n",
        R"({"id":6,"op":"fly"})"
        "\n",
        R"({"id":7,"op":"bench"})"
        "\n",
        R"({"id":8,"op":"probe","name":"n"})"
        "\n",
        R"({"id":9,"op":"exec","argv":3})"
        "\n"});
  ASSERT_EQ(replies_.size(), 8u);
  for (const auto& r : replies_) EXPECT_FALSE(r.at("ok").get<bool>()) << r;
  EXPECT_EQ(replies_[0]["error"], "request is not a JSON object");
  EXPECT_EQ(replies_[1]["id"], 0);
  EXPECT_EQ(replies_[2]["id"], "x");
  EXPECT_EQ(replies_[2]["error"], "missing string field \"op\"");
  EXPECT_EQ(replies_[3]["error"], "missing string field \"op\"");
  EXPECT_EQ(replies_[4]["error"], "unknown op `fly`");
  EXPECT_EQ(replies_[5]["error"], "bench failed");
  EXPECT_EQ(replies_[6]["error"], "op `probe` is not served here");
  EXPECT_EQ(replies_[7]["id"], 9);  // a handler's type_error is an error reply too
}

TEST_F(RequestFramerTest, ShutdownRepliesThenStopsReading) {
  EXPECT_TRUE(Feed({"{\"id\":1,\"op\":\"shutdown\"}\n{\"id\":2,\"op\":\"ping\"}\n"}));
  ASSERT_EQ(replies_.size(), 1u);
  EXPECT_EQ(replies_[0], (nlohmann::json{{"id", 1}, {"ok", true}}));
}

TEST_F(RequestFramerTest, OverLongLineIsDiscardedWholeWithOneError) {
  std::string big(kMaxRequestBytes + 1, 'x');
  Feed({big, "still the same line\n{\"id\":4,\"op\":\"ping\"}\n"});
  ASSERT_EQ(replies_.size(), 2u);
  EXPECT_EQ(replies_[0]["error"], "request line over 16 MiB discarded");
  EXPECT_EQ(replies_[1], (nlohmann::json{{"id", 4}, {"ok", true}}));
}

}  // namespace
}  // namespace isobench::agent
