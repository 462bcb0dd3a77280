// Checkout's HTTP surface (the original's /payment paths): sales, restock, purchases and holds;
// and the reads other services make over HTTP when they run apart (a paid purchase, a sale's
// figures, availability).
#pragma once

#include "infra/http/router.hpp"
#include "services/checkout/checkout_service.hpp"

namespace rocketmart::checkout {

inline constexpr std::size_t kPurchaseBodyLimit = 16 * 1024;
// GET /payment/holds: holds per page.
inline constexpr std::int64_t kMaxHoldsPage = 100;
// GET /payment/availability: products per request.
inline constexpr std::size_t kMaxAvailabilityIds = 100;

void RegisterRoutes(http::Router& router, CheckoutService& checkout);

boost::json::object SaleJson(const SaleView& view);

}  // namespace rocketmart::checkout
