// The names of the orders service's event consumers (effects). A name keys the subscriber's
// position on the bus and the claims its store records (processed_events), so it never changes:
// the subscriber subscribes under it and the store claims under it.
#pragma once

#include <string_view>

namespace rocketmart::orders {

inline constexpr std::string_view kOrderPaidConsumer = "orders.order_paid";
inline constexpr std::string_view kPaymentRefundedConsumer = "orders.payment_refunded";

}  // namespace rocketmart::orders
