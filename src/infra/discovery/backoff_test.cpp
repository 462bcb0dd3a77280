// The retry delay of the discovery adapters (backoff.hpp): jittered within [d/2, d], doubling up to
// the maximum, back to the start after Reset().
#include "infra/discovery/backoff.hpp"

#include <gtest/gtest.h>

#include <set>

namespace rocketmart::discovery {
namespace {

TEST(Backoff, DoublesWithinJitterUpToTheMaximumAndResets) {
  Backoff backoff(Millis{50}, Millis{2000});
  Millis ceiling{50};
  for (int i = 0; i < 10; ++i) {
    const Millis d = backoff.Next();
    EXPECT_GE(d, ceiling - ceiling / 2) << i;
    EXPECT_LE(d, ceiling) << i;
    ceiling = std::min(ceiling * 2, Millis{2000});
  }
  backoff.Reset();
  EXPECT_LE(backoff.Next(), Millis{50});
}

TEST(Backoff, IsJittered) {
  std::set<Millis::rep> seen;
  for (int i = 0; i < 50; ++i) {
    Backoff backoff(Millis{2000}, Millis{2000});
    seen.insert(backoff.Next().count());
  }
  EXPECT_GT(seen.size(), 10u) << "fifty fresh instances drew the same few delays";
}

}  // namespace
}  // namespace rocketmart::discovery
