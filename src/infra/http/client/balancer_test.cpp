// The client's decisions without I/O: which endpoint a call goes to, when an endpoint is ejected
// and let back, and how many retries the budget allows. Time is a FakeClock.
#include "infra/http/client/balancer.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "infra/http/client/client.hpp"
#include "infra/http/client/retry_budget.hpp"

namespace rocketmart::http::client {
namespace {

std::vector<Endpoint> Three() {
  return {{"a", "127.0.0.1", 1}, {"b", "127.0.0.1", 2}, {"c", "127.0.0.1", 3}};
}

BreakerOptions Breaker() {
  BreakerOptions o;
  o.consecutive_failures = 3;
  o.base_ejection = Millis{1000};
  o.max_ejection = Millis{5000};
  return o;
}

TEST(Balancer, TiesGoRoundRobin) {
  FakeClock clock;
  Balancer b(clock, Breaker());
  b.Update(Three());
  std::map<std::string, int> seen;
  for (int i = 0; i < 30; ++i) {
    const Pick p = b.Choose({});
    ASSERT_TRUE(p.state);
    ++seen[p.state->endpoint.id];
    EXPECT_FALSE(b.Finish(p, false));
  }
  EXPECT_EQ(seen["a"], 10);
  EXPECT_EQ(seen["b"], 10);
  EXPECT_EQ(seen["c"], 10);
}

TEST(Balancer, PicksTheEndpointWithFewestOutstandingCalls) {
  FakeClock clock;
  Balancer b(clock, Breaker());
  b.Update(Three());
  // Two calls stay open on each of a and b; c finishes its calls at once.
  std::vector<Pick> open;
  for (int i = 0; i < 6; ++i) {
    Pick p = b.Choose({});
    ASSERT_TRUE(p.state);
    if (p.state->endpoint.id == "c") {
      b.Finish(p, false);
    } else {
      open.push_back(std::move(p));
    }
  }
  // Every later pick goes to c while a and b keep theirs.
  for (int i = 0; i < 5; ++i) {
    const Pick p = b.Choose({});
    ASSERT_TRUE(p.state);
    EXPECT_EQ(p.state->endpoint.id, "c");
    b.Finish(p, false);
  }
  for (auto& p : open) b.Finish(p, false);
}

TEST(Balancer, ARetryAvoidsTheEndpointsAlreadyTriedUnlessNoOtherIsLeft) {
  FakeClock clock;
  Balancer b(clock, Breaker());
  b.Update({{"a", "127.0.0.1", 1}, {"b", "127.0.0.1", 2}});
  const Pick first = b.Choose({});
  b.Finish(first, true);
  const EndpointState* tried[] = {first.state.get()};
  const Pick second = b.Choose(tried);
  ASSERT_TRUE(second.state);
  EXPECT_NE(second.state.get(), first.state.get());
  b.Finish(second, true);
  const EndpointState* both[] = {first.state.get(), second.state.get()};
  const Pick third = b.Choose(both);
  EXPECT_TRUE(third.state);  // both tried: one of them again rather than nothing
  b.Finish(third, false);
}

TEST(Balancer, ConsecutiveFailuresEjectThenAProbeLetsTheEndpointBack) {
  FakeClock clock;
  Balancer b(clock, Breaker());
  b.Update({{"a", "127.0.0.1", 1}});
  // A success between failures resets the count.
  for (bool failed : {true, true, false, true, true}) EXPECT_FALSE(b.Finish(b.Choose({}), failed));
  EXPECT_TRUE(b.Finish(b.Choose({}), true));  // the third in a row
  Pick none = b.Choose({});
  EXPECT_FALSE(none.state);
  EXPECT_EQ(none.failure, PickFailure::kAllEjected);
  EXPECT_EQ(none.retry_after, Millis{1000});
  EXPECT_EQ(b.RetryAfter(), Millis{1000});

  clock.Advance(std::chrono::milliseconds{999});
  EXPECT_FALSE(b.Choose({}).state);
  clock.Advance(std::chrono::milliseconds{1});
  const Pick probe = b.Choose({});
  ASSERT_TRUE(probe.state);
  EXPECT_TRUE(probe.probe);
  EXPECT_FALSE(b.Choose({}).state) << "one probe at a time";
  EXPECT_FALSE(b.Finish(probe, false));
  const Pick back = b.Choose({});
  ASSERT_TRUE(back.state);
  EXPECT_FALSE(back.probe);
  b.Finish(back, false);
  EXPECT_EQ(b.RetryAfter(), Millis{0});
}

// A timeout cut short by the caller's deadline (or a wait for this process's own connection
// limit) says nothing about the endpoint: it neither adds to nor ends a streak of failures, and a
// probe that ends so decides nothing, so the next call after the cool-down probes again.
TEST(Balancer, AnInconclusiveEndNeitherCountsNorEndsAStreakNorDecidesAProbe) {
  FakeClock clock;
  Balancer b(clock, Breaker());
  b.Update({{"a", "127.0.0.1", 1}});
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(b.Finish(b.Choose({}), Verdict::kInconclusive));
  EXPECT_EQ(b.RetryAfter(), Millis{0});
  EXPECT_FALSE(b.Finish(b.Choose({}), Verdict::kFailed));
  EXPECT_FALSE(b.Finish(b.Choose({}), Verdict::kFailed));
  EXPECT_FALSE(b.Finish(b.Choose({}), Verdict::kInconclusive));  // the streak stays at two
  EXPECT_TRUE(b.Finish(b.Choose({}), Verdict::kFailed));         // the third in a row

  clock.Advance(std::chrono::milliseconds{1000});
  const Pick probe = b.Choose({});
  ASSERT_TRUE(probe.probe);
  EXPECT_FALSE(b.Finish(probe, Verdict::kInconclusive));
  EXPECT_EQ(b.RetryAfter(), Millis{0}) << "the cool-down is over: the next call may probe";
  const Pick again = b.Choose({});
  ASSERT_TRUE(again.state);
  EXPECT_TRUE(again.probe) << "still ejected: an inconclusive probe did not let it back";
  EXPECT_FALSE(b.Choose({}).state) << "one probe at a time";
  EXPECT_TRUE(b.Finish(again, Verdict::kFailed));
  EXPECT_EQ(b.RetryAfter(), Millis{2000}) << "a failed probe after it doubles the cool-down";
}

TEST(Balancer, AFailedProbeDoublesTheCoolDownUpToTheCap) {
  FakeClock clock;
  Balancer b(clock, Breaker());
  b.Update({{"a", "127.0.0.1", 1}});
  for (int i = 0; i < 3; ++i) b.Finish(b.Choose({}), true);
  for (long expected : {2000, 4000, 5000, 5000}) {
    clock.Advance(std::chrono::seconds{5});
    const Pick probe = b.Choose({});
    ASSERT_TRUE(probe.probe);
    EXPECT_TRUE(b.Finish(probe, true));
    EXPECT_EQ(b.RetryAfter(), Millis{expected});
  }
  // A successful probe forgets the history: the next ejection starts at the base again.
  clock.Advance(std::chrono::seconds{5});
  b.Finish(b.Choose({}), false);
  for (int i = 0; i < 3; ++i) b.Finish(b.Choose({}), true);
  EXPECT_EQ(b.RetryAfter(), Millis{1000});
}

TEST(Balancer, EjectedEndpointsAreSkippedWhileOthersServe) {
  FakeClock clock;
  Balancer b(clock, Breaker());
  b.Update(Three());
  const EndpointState* a = nullptr;
  for (const auto& s : b.Snapshot()) {
    if (s->endpoint.id == "a") a = s.get();
  }
  int failures = 0;
  while (failures < 3) {
    const Pick p = b.Choose({});
    const bool fail = p.state.get() == a;
    failures += fail ? 1 : 0;
    b.Finish(p, fail);
  }
  for (int i = 0; i < 20; ++i) {
    const Pick p = b.Choose({});
    ASSERT_TRUE(p.state);
    EXPECT_NE(p.state.get(), a);
    b.Finish(p, false);
  }
  EXPECT_EQ(b.RetryAfter(), Millis{0});
}

TEST(Balancer, UpdateKeepsTheHealthOfEndpointsThatStayAndDropsTheOthers) {
  FakeClock clock;
  Balancer b(clock, Breaker());
  std::vector<std::string> removed;
  b.OnRemoved([&](std::shared_ptr<EndpointState> s) { removed.push_back(s->endpoint.id); });
  b.Update({{"a", "127.0.0.1", 1}, {"b", "127.0.0.1", 2}});
  const Pick in_flight = b.Choose({});  // stays in flight across the update
  ASSERT_EQ(in_flight.state->endpoint.id, "a");
  for (int i = 0; i < 3; ++i) {
    const EndpointState* skip[] = {in_flight.state.get()};
    b.Finish(b.Choose(skip), true);  // b is ejected
  }
  b.Update({{"b", "127.0.0.1", 2}, {"c", "127.0.0.1", 3}, {"c", "127.0.0.1", 4}});
  EXPECT_EQ(removed, std::vector<std::string>{"a"});
  EXPECT_TRUE(in_flight.state->removed.load());
  b.Finish(in_flight, false);  // the old state is still valid
  const auto now = b.Snapshot();
  ASSERT_EQ(now.size(), 2U);  // the second "c" is a duplicate id
  EXPECT_TRUE(now[0]->ejected) << "b kept its ejection";
  for (int i = 0; i < 5; ++i) {
    const Pick p = b.Choose({});
    ASSERT_TRUE(p.state);
    EXPECT_EQ(p.state->endpoint.id, "c");
    b.Finish(p, false);
  }
  // The same id at another address is a new endpoint.
  b.Update({{"c", "127.0.0.1", 5}});
  EXPECT_EQ(removed, (std::vector<std::string>{"a", "b", "c"}));
  b.Update({});
  EXPECT_EQ(b.Choose({}).failure, PickFailure::kNoEndpoints);
}

// Which endpoint each of the keys 1..kKeys goes to (the call finished at once).
constexpr std::uint64_t kKeys = 600;
std::map<std::uint64_t, std::string> Placement(Balancer& b) {
  std::map<std::uint64_t, std::string> out;
  for (std::uint64_t key = 1; key <= kKeys; ++key) {
    const Pick p = b.Choose({}, key);
    EXPECT_TRUE(p.state);
    if (!p.state) continue;
    out[key] = p.state->endpoint.id;
    b.Finish(p, false);
  }
  return out;
}

TEST(Balancer, AnAffinityKeyStaysOnOneEndpointAndEveryBalancerAgreesWhichOne) {
  FakeClock clock;
  Balancer first(clock, Breaker());
  Balancer second(clock, Breaker());  // another gateway, told of the set in another order
  first.Update(Three());
  auto reversed = Three();
  std::reverse(reversed.begin(), reversed.end());
  second.Update(reversed);

  const auto placed = Placement(first);
  EXPECT_EQ(Placement(first), placed) << "a key moved with nothing changed";
  EXPECT_EQ(Placement(second), placed) << "two balancers disagree";
  // Outstanding calls do not move a key (least-outstanding is for calls without one).
  std::vector<Pick> open;
  for (int i = 0; i < 5; ++i) open.push_back(first.Choose({}, 1));
  for (const Pick& p : open) EXPECT_EQ(p.state->endpoint.id, placed.at(1));
  for (const Pick& p : open) first.Finish(p, false);

  std::map<std::string, int> per_endpoint;
  for (const auto& [key, id] : placed) ++per_endpoint[id];
  ASSERT_EQ(per_endpoint.size(), 3u);
  for (const auto& [id, keys] : per_endpoint) {
    EXPECT_GT(keys, static_cast<int>(kKeys) / 5) << id << " gets too few keys";
  }
}

// Every key placed on `gone` before has moved, and every other key stayed where it was.
void ExpectOnlyTheKeysOfMoved(const std::map<std::uint64_t, std::string>& before,
                              const std::map<std::uint64_t, std::string>& after,
                              const std::string& gone) {
  for (const auto& [key, id] : before) {
    if (id == gone) {
      EXPECT_NE(after.at(key), gone);
    } else {
      EXPECT_EQ(after.at(key), id) << "key " << key << " moved";
    }
  }
}

TEST(Balancer, WhenAnEndpointGoesOrIsEjectedOnlyItsKeysMove) {
  FakeClock clock;
  Balancer b(clock, Breaker());
  b.Update(Three());
  const auto before = Placement(b);

  // b leaves the set: its keys spread over a and c, every other key stays.
  b.Update({{"a", "127.0.0.1", 1}, {"c", "127.0.0.1", 3}});
  ExpectOnlyTheKeysOfMoved(before, Placement(b), "b");

  // Back again: every key returns to where it was.
  b.Update(Three());
  EXPECT_EQ(Placement(b), before);

  // a is ejected: only a's keys move, and they come back after a's probe succeeds.
  std::uint64_t on_a = 0;
  for (const auto& [key, id] : before) {
    if (id == "a") on_a = key;
  }
  ASSERT_NE(on_a, 0u);
  for (int i = 0; i < 3; ++i) b.Finish(b.Choose({}, on_a), true);
  ExpectOnlyTheKeysOfMoved(before, Placement(b), "a");
  clock.Advance(std::chrono::milliseconds(1000));
  const Pick probe = b.Choose({}, on_a);
  ASSERT_TRUE(probe.state);
  EXPECT_EQ(probe.state->endpoint.id, "a");
  EXPECT_TRUE(probe.probe);
  b.Finish(probe, false);
  EXPECT_EQ(Placement(b), before);
}

TEST(Balancer, ARetryOfAKeyedCallGoesElsewhere) {
  FakeClock clock;
  Balancer b(clock, Breaker());
  b.Update(Three());
  const Pick first = b.Choose({}, 42);
  ASSERT_TRUE(first.state);
  const EndpointState* tried[] = {first.state.get()};
  const Pick retry = b.Choose(tried, 42);
  ASSERT_TRUE(retry.state);
  EXPECT_NE(retry.state.get(), first.state.get());
  b.Finish(first, true);
  b.Finish(retry, false);
}

TEST(RetryBudget, AllowsTheFloorPlusTheRatioOfTheWindowsRequests) {
  FakeClock clock;
  RetryBudget budget(clock, RetryBudgetOptions{0.1, 5, 10});
  int allowed = 0;
  for (int i = 0; i < 100; ++i) {
    budget.OnRequest();
    for (int r = 0; r < 2; ++r) allowed += budget.TryRetry() ? 1 : 0;  // each would retry twice
  }
  EXPECT_EQ(allowed, 5 + 10);
  // The window moves on: the old requests and retries no longer count.
  clock.Advance(std::chrono::seconds{10});
  int later = 0;
  for (int r = 0; r < 10; ++r) later += budget.TryRetry() ? 1 : 0;
  EXPECT_EQ(later, 5);
}

TEST(RetryBudget, SpreadsOverTheSecondsOfItsWindow) {
  FakeClock clock;
  RetryBudget budget(clock, RetryBudgetOptions{0.5, 0, 3});
  for (int i = 0; i < 4; ++i) budget.OnRequest();  // second 0: 4 requests
  clock.Advance(std::chrono::seconds{1});
  for (int i = 0; i < 2; ++i) budget.OnRequest();  // second 1: 2 requests
  int allowed = 0;
  for (int r = 0; r < 10; ++r) allowed += budget.TryRetry() ? 1 : 0;
  EXPECT_EQ(allowed, 3);                   // 0.5 × 6
  clock.Advance(std::chrono::seconds{2});  // second 0 leaves the window
  EXPECT_FALSE(budget.TryRetry());         // 0.5 × 2 = 1, and 3 retries still count
}

TEST(ClientErrors, TransientCodesAreThoseWorthTryingLater) {
  EXPECT_TRUE(IsTransient(Errc::kTimeout));
  EXPECT_TRUE(IsTransient(Errc::kUnavailable));
  EXPECT_TRUE(IsTransient(Errc::kOverloaded));
  EXPECT_FALSE(IsTransient(Errc::kInternal));
  EXPECT_FALSE(IsTransient(Errc::kNotFound));
}

}  // namespace
}  // namespace rocketmart::http::client
