// SharedAnswers (docs/adr/0048): which requests a service's shared answer is repeated to, for how
// long, and what makes the gateway forget it.
#include "services/gateway/proxy/shared_answers.hpp"

#include <gtest/gtest.h>

#include <string>

namespace rocketmart::gateway {
namespace {

using namespace std::chrono_literals;

const TimePoint kT0 = TimePoint(std::chrono::seconds(1'800'000'000));
constexpr std::string_view kBody = R"({"productId":7,"amount":1})";

// A purchase as the gateway's server hands it to the proxy: a verified member's, no key.
struct Purchase {
  explicit Purchase(std::string_view body = kBody, std::string target = "/payment/request")
      : raw(http::Method::post, target, 11), req{raw} {
    raw.set("Content-Type", "application/json");
    raw.body() = std::string(body);
    req.identity = auth::Identity{.member_id = 5, .email_verified = true};
  }
  Purchase(const Purchase&) = delete;  // `req` refers to this one's `raw`
  Purchase& operator=(const Purchase&) = delete;
  http::RawRequest raw;
  http::Request req;
};

http::Response SoldOut() {
  http::Response res{http::Status::conflict, 11};
  res.set("Content-Type", "application/json");
  res.body() = R"({"error":{"code":"SOLD_OUT","message":"sold out"}})";
  res.prepare_payload();
  return res;
}

// `res` learned as the service's answer to `p` asked at `at`, marked for `for_ms`.
void Teach(SharedAnswers& answers, const Purchase& p, TimePoint at, Millis for_ms) {
  auto ask = answers.Begin(p.req, at);
  ASSERT_TRUE(ask.has_value());
  answers.Learn(&*ask, http::Method::post, for_ms, SoldOut());
}

std::optional<http::Response> Ask(SharedAnswers& answers, const Purchase& p, TimePoint at) {
  auto ask = answers.Begin(p.req, at);
  if (!ask) return std::nullopt;
  auto held = answers.Find(*ask);
  if (held) answers.Gave();
  return held;
}

TEST(SharedAnswers, TheSameRequestGetsTheSameAnswerUntilTheMarkEnds) {
  metrics::Counter answered;
  SharedAnswers answers(&answered);
  Purchase first;
  EXPECT_FALSE(Ask(answers, first, kT0));  // nothing learned yet
  Teach(answers, first, kT0, 100ms);

  Purchase other_member;
  other_member.req.identity->member_id = 6;
  auto held = Ask(answers, other_member, kT0 + 99ms);
  ASSERT_TRUE(held.has_value());
  EXPECT_EQ(held->result_int(), 409u);
  EXPECT_EQ(held->body(), SoldOut().body());
  EXPECT_EQ(answered.Value(), 1u);
  // Counted from when the marked request came: over at 100 ms.
  EXPECT_FALSE(Ask(answers, other_member, kT0 + 100ms));
  EXPECT_EQ(answered.Value(), 1u);
}

TEST(SharedAnswers, OnlyTheSameRequestFromAVerifiedMemberWithoutAKeyQualifies) {
  SharedAnswers answers;
  Purchase marked;
  Teach(answers, marked, kT0, 100ms);
  const TimePoint soon = kT0 + 1ms;
  ASSERT_TRUE(Ask(answers, marked, soon));

  Purchase keyed;
  keyed.raw.set("Idempotency-Key", "k-1");
  EXPECT_FALSE(answers.Begin(keyed.req, soon)) << "a key may replay a purchase";
  Purchase empty_key;
  empty_key.raw.set("Idempotency-Key", "");
  EXPECT_FALSE(answers.Begin(empty_key.req, soon)) << "the service refuses an empty key";
  Purchase unverified;
  unverified.req.identity->email_verified = false;
  EXPECT_FALSE(answers.Begin(unverified.req, soon));
  Purchase anonymous;
  anonymous.req.identity.reset();
  EXPECT_FALSE(answers.Begin(anonymous.req, soon));
  Purchase long_body(std::string(SharedAnswers::kMaxRequestBody + 1, ' '));
  EXPECT_FALSE(answers.Begin(long_body.req, soon));

  // A gateway that checks keys (docs/adr/0049): a valid key rides on the Ask, and the request
  // finds the entry an unkeyed one taught (the key is not part of what makes it the same).
  const auto keyed_ask = answers.Begin(keyed.req, soon, true);
  ASSERT_TRUE(keyed_ask.has_value());
  EXPECT_EQ(keyed_ask->idempotency_key, "k-1");
  EXPECT_TRUE(answers.Find(*keyed_ask));
  EXPECT_EQ(answers.Begin(marked.req, soon, true)->idempotency_key, "");
  EXPECT_FALSE(answers.Begin(empty_key.req, soon, true)) << "the service refuses an empty key";
  Purchase spaced_key;
  spaced_key.raw.set("Idempotency-Key", "a key");
  EXPECT_FALSE(answers.Begin(spaced_key.req, soon, true)) << "nor one it would refuse";
  Purchase long_key;
  long_key.raw.set("Idempotency-Key", std::string(256, 'k'));
  EXPECT_FALSE(answers.Begin(long_key.req, soon, true));

  // Anything else that differs is another request.
  EXPECT_FALSE(Ask(answers, Purchase(R"({"productId":7,"amount":2})"), soon));
  EXPECT_FALSE(Ask(answers, Purchase(kBody, "/payment/holds"), soon));
  Purchase other_type;
  other_type.raw.set("Content-Type", "text/plain");
  EXPECT_FALSE(Ask(answers, other_type, soon));
  Purchase admin;
  admin.req.identity->role = auth::Role::kAdmin;
  EXPECT_FALSE(Ask(answers, admin, soon));
}

TEST(SharedAnswers, AChangeForwardedToTheServiceForgetsEveryAnswer) {
  SharedAnswers answers;
  Purchase p;
  Teach(answers, p, kT0, 1000ms);
  // A read or a refused change leaves it.
  answers.Learn(nullptr, http::Method::get, Millis{0}, http::Response{http::Status::ok, 11});
  answers.Learn(nullptr, http::Method::delete_, Millis{0},
                http::Response{http::Status::conflict, 11});
  ASSERT_TRUE(Ask(answers, p, kT0 + 1ms));
  // A purchase replayed to its Idempotency-Key changed nothing now: kept.
  http::Response replayed{http::Status::created, 11};
  replayed.set("Idempotent-Replayed", "true");
  answers.Learn(nullptr, http::Method::post, Millis{0}, replayed);
  ASSERT_TRUE(Ask(answers, p, kT0 + 1ms));
  // A hold given back (204): forgotten at once.
  answers.Learn(nullptr, http::Method::delete_, Millis{0},
                http::Response{http::Status::no_content, 11});
  EXPECT_FALSE(Ask(answers, p, kT0 + 2ms));
}

TEST(SharedAnswers, AnAnswerFromBeforeAChangeIsNotKept) {
  SharedAnswers answers;
  Purchase p;
  // The purchase leaves for the service; a cancel is answered meanwhile; then the purchase's
  // sold-out answer comes back marked: it may predate the cancel.
  auto ask = answers.Begin(p.req, kT0);
  ASSERT_TRUE(ask.has_value());
  answers.Learn(nullptr, http::Method::delete_, Millis{0},
                http::Response{http::Status::no_content, 11});
  answers.Learn(&*ask, http::Method::post, 100ms, SoldOut());
  EXPECT_EQ(answers.size(), 0u);
  EXPECT_FALSE(Ask(answers, p, kT0 + 1ms));
}

TEST(SharedAnswers, TheMarkIsAPlainCountOfMillisecondsWithinABound) {
  auto marked = [](std::string_view value) {
    http::Response res = SoldOut();
    res.set(http::kSharedAnswerHeader, value);
    return SharedAnswers::MarkOf(res);
  };
  EXPECT_EQ(SharedAnswers::MarkOf(SoldOut()), Millis{0});
  EXPECT_EQ(marked("99"), 99ms);
  EXPECT_EQ(marked("99999999"), SharedAnswers::kMaxFor);
  for (std::string_view bad : {"", "-5", "1.5", "12ms", "x"}) {
    EXPECT_EQ(marked(bad), Millis{0}) << "'" << bad << "'";
  }
}

TEST(SharedAnswers, TheTableStaysWithinItsBound) {
  SharedAnswers answers;
  for (std::size_t i = 0; i < 3 * SharedAnswers::kMaxEntries; ++i) {
    Teach(answers, Purchase(R"({"productId":)" + std::to_string(i) + R"(,"amount":1})"), kT0,
          100ms);
    ASSERT_LE(answers.size(), SharedAnswers::kMaxEntries);
  }
}

}  // namespace
}  // namespace rocketmart::gateway
