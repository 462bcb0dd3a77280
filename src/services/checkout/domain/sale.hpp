// The rules of a drop, with no I/O: the sale window, the per-member limit, what a purchase may ask
// for, and the order in which a purchase attempt is judged.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "core/sale_state.hpp"

namespace rocketmart::checkout {

inline constexpr std::int64_t kMaxQuantityPerPurchase = 100;
inline constexpr std::int64_t kMaxPerMemberLimit = 10'000;
// Restock: at most kMaxRestock units per request, and a product never has more than
// kMaxUnitsStocked units put on sale over its life (initial + restocked, sold ones included; the
// same bound as the catalog's initial stock), so no stock counter can grow without bound.
inline constexpr std::int64_t kMaxRestock = 1'000'000;
inline constexpr std::int64_t kMaxUnitsStocked = 1'000'000'000;
inline constexpr std::size_t kMaxLinesPerPurchase = 50;

struct Sale {
  TimePoint starts_at;
  TimePoint ends_at;
  std::int64_t per_member_limit = 1;
};

// `available` is nullopt until checkout has the product's stock (see SaleState::kPreparing).
SaleState StateOf(const Sale& sale, TimePoint now, std::optional<std::int64_t> available);

// A window must have positive length and a limit within bounds.
Status ValidateSale(const Sale& sale);

// The first check of every purchase, answered from memory: is the window open now?
// kNoSale when the product has no sale configured.
Status CheckWindow(const Sale* sale, TimePoint now);

}  // namespace rocketmart::checkout
