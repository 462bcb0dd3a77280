// The orders service's HTTP surface: a member's own orders (list, detail, cancel, return) and the
// operators' views and controls under /admin. Routes hold a reference to the service, which must
// outlive the router.
#pragma once

#include "infra/http/router.hpp"
#include "services/orders/orders_service.hpp"

namespace rocketmart::orders {

void RegisterRoutes(http::Router& router, OrdersService& orders);
boost::json::object OrderJson(const Order& order, bool with_history);

}  // namespace rocketmart::orders
