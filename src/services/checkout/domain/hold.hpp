// Holds: stock set aside for one member, one or more lines, until it is paid, released or expires.
// A hold resolves exactly once (the transitions below are the only ones the store performs):
//   ACTIVE -> PAYING -> PAID | RELEASED      (payment approved | declined)
//   ACTIVE -> RELEASED                       (the member cancels)
//   ACTIVE -> EXPIRED                        (the sweeper, after the TTL)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"

namespace rocketmart::checkout {

enum class HoldStatus { kActive, kPaying, kPaid, kReleased, kExpired };

std::string_view HoldStatusName(HoldStatus status);
std::optional<HoldStatus> ParseHoldStatus(std::string_view name);

// Why a hold was released (kept with it; a replayed answer tells a decline from a cancel).
enum class ReleaseReason { kCancelled, kDeclined, kExpired, kRecovered };
std::string_view ReleaseReasonName(ReleaseReason reason);

struct HoldLine {
  std::int64_t product_id = 0;
  std::int64_t quantity = 0;
  std::int64_t price = 0;  // unit price at the moment of the hold, minor units
};

struct Hold {
  std::int64_t id = 0;
  std::int64_t member_id = 0;
  HoldStatus status = HoldStatus::kActive;
  std::vector<HoldLine> lines;
  std::int64_t total = 0;
  TimePoint created_at;
  TimePoint expires_at;
};

// A purchase request as the domain sees it: what, for whom, and under which idempotency key.
struct PurchaseLine {
  std::int64_t product_id = 0;
  std::int64_t quantity = 0;
};

// The final answer of a paid purchase, first or replayed: what was bought (the hold's lines) and
// when it was paid, so a caller that must act on the purchase (the cart removing the bought lines)
// can do it from a replay as well.
struct PaidOrder {
  std::int64_t order_id = 0;
  std::int64_t payment_id = 0;
  std::int64_t hold_id = 0;
  std::int64_t total = 0;
  std::vector<HoldLine> lines;
  TimePoint paid_at;
};

// Units given back to admission after a hold left the ACTIVE/PAYING states without being paid.
struct ReleasedUnits {
  std::int64_t member_id = 0;
  std::vector<HoldLine> lines;
};

}  // namespace rocketmart::checkout
