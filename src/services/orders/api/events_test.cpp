// The orders service's order.cancelled / order.returned codec: round trip, older shapes, every
// malformed shape an error.
#include "services/orders/api/events.hpp"

#include <gtest/gtest.h>

#include "support/json_shapes.hpp"

namespace rocketmart::orders::api {
namespace {

OrderReversed ACancelledOrder() {
  return OrderReversed{8, 8, 42, 3000, "CANCELLED", {{11, 2, 1000}, {12, 1, 1000}}};
}

TEST(OrdersEvents, OrderReversedRoundTrips) {
  auto decoded = DecodeOrderReversed(Encode(ACancelledOrder()));
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(decoded->order_id, 8);
  EXPECT_EQ(decoded->payment_id, 8);
  EXPECT_EQ(decoded->member_id, 42);
  EXPECT_EQ(decoded->total, 3000);
  EXPECT_EQ(decoded->status, "CANCELLED");
  ASSERT_EQ(decoded->lines.size(), 2u);
  EXPECT_EQ(decoded->lines[1].product_id, 12);
  EXPECT_EQ(decoded->lines[1].quantity, 1);
  EXPECT_EQ(decoded->lines[1].price, 1000);
}

TEST(OrdersEvents, OlderOrderReversedDecodes) {
  // As written before versions.
  auto old = DecodeOrderReversed(
      R"({"orderId":8,"paymentId":8,"memberId":42,"total":1000,"status":"RETURNED",)"
      R"("lines":[{"productId":11,"quantity":1,"price":1000}]})");
  ASSERT_TRUE(old.ok()) << old.error().message;
  EXPECT_EQ(old->status, "RETURNED");
}

TEST(OrdersEvents, EveryMalformedOrderReversedIsAnError) {
  auto variants = testing::MalformedVariants(Encode(ACancelledOrder()), {"v"});
  variants.emplace_back(
      R"({"v":2,"orderId":8,"paymentId":8,"memberId":42,"total":1,"status":"RETURNED",)"
      R"("lines":[]})");
  variants.emplace_back(
      R"({"orderId":8,"paymentId":0,"memberId":42,"total":1,"status":"RETURNED","lines":[]})");
  variants.emplace_back(R"({"paymentId":"8"})");
  for (const std::string& payload : variants) {
    Result<OrderReversed> decoded = MakeError(Errc::kInternal, "not run");
    EXPECT_NO_THROW(decoded = DecodeOrderReversed(payload)) << payload;
    EXPECT_FALSE(decoded.ok()) << payload;
  }
}

}  // namespace
}  // namespace rocketmart::orders::api
