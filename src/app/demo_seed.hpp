// The demo catalog seeded into an empty data directory so a newcomer can try the API at once:
// a few products, each with a sale open now for 30 days (the sneakers: one per member).
#pragma once

#include <cstdint>
#include <vector>

#include "core/clock.hpp"
#include "services/catalog/catalog_service.hpp"
#include "services/checkout/checkout_service.hpp"

namespace rocketmart::app {

// Seeds only when the catalog is empty. Returns the ids of the products created.
std::vector<std::int64_t> SeedDemoCatalog(catalog::CatalogService& catalog,
                                          checkout::CheckoutService& checkout, TimePoint now);

}  // namespace rocketmart::app
