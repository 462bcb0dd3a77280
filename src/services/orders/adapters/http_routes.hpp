// The orders service's HTTP surface: a member's own orders (list, detail, cancel, return) and the
// operators' views and controls under /admin. Routes hold a reference to the service, which must
// outlive the router.
#pragma once

#include "infra/http/router.hpp"
#include "services/orders/orders_service.hpp"

namespace rocketmart::orders {

void RegisterRoutes(http::Router& router, OrdersService& orders);
// `for_admin`: history entries carry actorId (the admin who did it, null when none).
boost::json::object OrderJson(const Order& order, bool with_history, bool for_admin = false);

}  // namespace rocketmart::orders
