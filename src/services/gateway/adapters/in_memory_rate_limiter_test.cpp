// The in-memory rate limiter's own promises beyond the port contract: bounded memory without
// allocation after construction, and a spray of fresh keys displaces no key being held back.
#include "services/gateway/adapters/in_memory_rate_limiter.hpp"

#include <gtest/gtest.h>

#include <boost/asio/ip/address_v4.hpp>
#include <vector>

namespace rocketmart::gateway {
namespace {

RateVerdict One(InMemoryRateLimiter& limiter, const RateKey& key, RateLimit limit) {
  const std::vector<RateCheck> checks = {{key, limit}};
  return **limiter.TryAcquireNow(checks);
}

TEST(InMemoryRateLimiter, AMillionDistinctAddressesStayWithinTheTableAndDisplaceNoHeldBackKey) {
  FakeClock clock;
  InMemoryRateLimiter limiter(clock, 1 << 12);
  const RateLimit limit{.per_second = 10, .burst = 5};
  // A client being held back: its burst spent.
  const RateKey held = RateKey::Address(boost::asio::ip::make_address("192.0.2.1"));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(One(limiter, held, limit).allowed());
  ASSERT_FALSE(One(limiter, held, limit).allowed());
  // A million other addresses, one request each, in the same instant.
  for (std::uint32_t i = 0; i < 1'000'000; ++i) {
    const RateKey key = RateKey::Address(boost::asio::ip::address_v4(0x0A000000u + i));
    ASSERT_TRUE(One(limiter, key, limit).allowed());
  }
  EXPECT_LE(limiter.size(), limiter.capacity());
  EXPECT_EQ(limiter.capacity(), 4096u);
  // The held-back key was never displaced: it is still refused.
  EXPECT_FALSE(One(limiter, held, limit).allowed());
}

}  // namespace
}  // namespace rocketmart::gateway
