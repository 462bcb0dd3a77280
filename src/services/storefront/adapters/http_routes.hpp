// The storefront's routes: the single page (index.html for every page path), its hashed assets,
// the live stock stream and the server time the drop page's countdown is corrected by.
#pragma once

#include <memory>
#include <string_view>

#include "core/clock.hpp"
#include "infra/http/router.hpp"
#include "services/storefront/adapters/static_files.hpp"
#include "services/storefront/adapters/stock_stream_hub.hpp"
#include "services/storefront/ports/stock_reader.hpp"

namespace rocketmart::storefront {

// Page paths answered with index.html. None of them is an API path (GET /cart, /admin/orders,
// /member/verify and /member/reset-password belong to the API and to the members' pages).
inline constexpr std::string_view kPageRoutes[] = {
    "/",          "/drop/{id}",       "/shop",
    "/shop/{id}", "/account",         "/account/{page}",
    "/operator",  "/operator/{page}", "/operator/{page}/{id}",
};

// `assets` null: the storefront was not built; the page routes then answer 503 UNAVAILABLE.
void RegisterPageRoutes(http::Router& router, std::shared_ptr<const StaticAssets> assets);
// GET /products/{id}/stock/stream and GET /stock/stream?products=1,2,3
void RegisterStreamRoutes(http::Router& router, StockStreamHub& hub, const StockReader& reader);
// GET /time
void RegisterTimeRoute(http::Router& router, const Clock& clock);

}  // namespace rocketmart::storefront
