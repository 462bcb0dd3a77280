// Where a product's sale stands: the shared vocabulary of checkout (which owns sales) and the
// catalog (which shows them and filters by them). On the wire: none | upcoming | preparing | live |
// soldout | ended | retired | unknown.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "core/clock.hpp"

namespace rocketmart {

// kPreparing: inside the window, but checkout has not received the product's stock yet (the
// catalog's product event is milliseconds behind its creation); a purchase then answers 503
// UNAVAILABLE and a retry succeeds. Reporting it as soldout would tell buyers to give up.
// kRetired: the product was retired; its sale, whatever its window, sells nothing any more.
// kUnknown: the catalog could not read checkout's figures for the product (an availability source
// that failed or is not warm yet); shown, never a list filter.
// Appended (codes are never renumbered).
enum class SaleState { kNone, kUpcoming, kPreparing, kLive, kSoldOut, kEnded, kRetired, kUnknown };

std::string_view SaleStateName(SaleState state);
// Reads a product list filter (`saleState=`). Retired products are never listed, so "retired" is
// not one of them; nor is "unknown" (a state of the catalog's sources, not of a sale).
std::optional<SaleState> ParseSaleState(std::string_view name);

// The state of a sale window [starts_at, ends_at) at `now` with `available` units left, or with
// `available` nullopt when inventory does not know the product yet.
SaleState SaleStateAt(TimePoint starts_at, TimePoint ends_at, std::optional<std::int64_t> available,
                      TimePoint now);

}  // namespace rocketmart
