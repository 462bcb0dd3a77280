// Where a product's sale stands: the shared vocabulary of checkout (which owns sales) and the
// catalog (which shows them and filters by them). On the wire: none | upcoming | live | soldout |
// ended.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "core/clock.hpp"

namespace rocketmart {

enum class SaleState { kNone, kUpcoming, kLive, kSoldOut, kEnded };

std::string_view SaleStateName(SaleState state);
std::optional<SaleState> ParseSaleState(std::string_view name);

// The state of a sale window [starts_at, ends_at) at `now` with `available` units left.
SaleState SaleStateAt(TimePoint starts_at, TimePoint ends_at, std::int64_t available,
                      TimePoint now);

}  // namespace rocketmart
