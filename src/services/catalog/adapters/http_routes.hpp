// The catalog's HTTP surface: JSON in and out, translated to CatalogService calls. Nothing else.
#pragma once

#include <boost/json/object.hpp>
#include <functional>

#include "infra/http/router.hpp"
#include "services/catalog/catalog_service.hpp"
#include "services/catalog/shopping_service.hpp"

namespace rocketmart::catalog {

// Adds fields other modules own (e.g. the sale window) to a product's JSON. May be empty.
using ProductDecorator = std::function<void(std::int64_t product_id, boost::json::object&)>;

// Products (public reads, admin writes) and likes (members).
void RegisterRoutes(http::Router& router, CatalogService& catalog, ProductDecorator decorator = {});
// Wishlist (/products/wishlist) and cart (/cart): members only, each sees only their own.
void RegisterShoppingRoutes(http::Router& router, ShoppingService& shopping);

boost::json::object ProductJson(const ProductView& view);

}  // namespace rocketmart::catalog
