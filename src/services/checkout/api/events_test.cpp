// checkout's event codecs: what the store encodes decodes to the same event; events written by
// older versions (no "v", order lines without a name, the refunds a migration reported) still
// decode; every malformed shape is an error, never an exception.
#include "services/checkout/api/events.hpp"

#include <gtest/gtest.h>

#include "support/json_shapes.hpp"

namespace rocketmart::checkout::api {
namespace {

OrderPaid APaidOrder() {
  return OrderPaid{7,
                   7,
                   3,
                   42,
                   2500,
                   {{11, 2, 1000, "Sneaker \"One\" \xc3\xa9"}, {12, 1, 500, ""}},
                   FromUnixMillis(1'700'000'000'123)};
}

TEST(CheckoutEvents, OrderPaidRoundTrips) {
  const OrderPaid paid = APaidOrder();
  const std::string payload = Encode(paid);
  auto decoded = DecodeOrderPaid(payload);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(decoded->order_id, 7);
  EXPECT_EQ(decoded->payment_id, 7);
  EXPECT_EQ(decoded->hold_id, 3);
  EXPECT_EQ(decoded->member_id, 42);
  EXPECT_EQ(decoded->total, 2500);
  EXPECT_EQ(decoded->paid_at, paid.paid_at);
  ASSERT_EQ(decoded->lines.size(), 2u);
  EXPECT_EQ(decoded->lines[0].product_id, 11);
  EXPECT_EQ(decoded->lines[0].quantity, 2);
  EXPECT_EQ(decoded->lines[0].price, 1000);
  EXPECT_EQ(decoded->lines[0].name, paid.lines[0].name);
  EXPECT_EQ(decoded->lines[1].name, "");
  EXPECT_NE(payload.find(R"("v":1)"), std::string::npos) << payload;
}

TEST(CheckoutEvents, OrderPaidOfOlderVersionsDecodes) {
  // As written before versions and before product names (issue 11): no "v", lines without name.
  auto old =
      DecodeOrderPaid(R"({"orderId":9001,"paymentId":9001,"holdId":1,"memberId":6,"total":1000,)"
                      R"("lines":[{"productId":7,"quantity":1,"price":1000}],"paidAtMs":1})");
  ASSERT_TRUE(old.ok()) << old.error().message;
  ASSERT_EQ(old->lines.size(), 1u);
  EXPECT_EQ(old->lines[0].name, "");
  EXPECT_EQ(old->paid_at, FromUnixMillis(1));
  // A newer producer may add fields without a version change.
  auto newer = DecodeOrderPaid(
      R"({"v":1,"orderId":1,"paymentId":1,"holdId":1,"memberId":6,"total":0,"currency":"EUR",)"
      R"("lines":[],"paidAtMs":1})");
  EXPECT_TRUE(newer.ok());
}

TEST(CheckoutEvents, EveryMalformedOrderPaidIsAnError) {
  const std::string valid = Encode(APaidOrder());
  auto variants = testing::MalformedVariants(valid, {"v", "name"});
  for (const char* extra :
       {R"({"v":2,"orderId":1,"paymentId":1,"holdId":1,"memberId":1,"total":0,"lines":[],)"
        R"("paidAtMs":1})",
        R"({"orderId":0,"paymentId":1,"holdId":1,"memberId":1,"total":0,"lines":[],"paidAtMs":1})",
        R"({"orderId":1,"paymentId":1,"holdId":1,"memberId":1,"total":-1,"lines":[],"paidAtMs":1})",
        R"({"orderId":1,"paymentId":1,"holdId":1,"memberId":1,"total":0,"paidAtMs":1,)"
        R"("lines":[{"productId":1,"quantity":0,"price":1}]})",
        R"({"orderId":"not a number"})"}) {
    variants.emplace_back(extra);
  }
  ASSERT_GT(variants.size(), 60u);
  for (const std::string& payload : variants) {
    Result<OrderPaid> decoded = MakeError(Errc::kInternal, "not run");
    EXPECT_NO_THROW(decoded = DecodeOrderPaid(payload)) << payload;
    EXPECT_FALSE(decoded.ok()) << payload;
    if (!decoded.ok()) {
      EXPECT_FALSE(decoded.error().message.empty()) << payload;
    }
  }
}

TEST(CheckoutEvents, PaymentRefundedRoundTripsAndOldEventsDecode) {
  const PaymentRefunded refunded{5, 5, 9, 3000, FromUnixMillis(1234)};
  auto decoded = DecodePaymentRefunded(Encode(refunded));
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(decoded->order_id, 5);
  EXPECT_EQ(decoded->payment_id, 5);
  EXPECT_EQ(decoded->member_id, 9);
  EXPECT_EQ(decoded->amount, 3000);
  EXPECT_EQ(decoded->refunded_at, FromUnixMillis(1234));
  // As checkout's migration 7 reported refunds settled before the event existed.
  auto old = DecodePaymentRefunded(
      R"({"orderId":5,"paymentId":5,"memberId":9,"amount":3000,"refundedAtMs":1234})");
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old->amount, 3000);
}

TEST(CheckoutEvents, EveryMalformedPaymentRefundedIsAnError) {
  auto variants = testing::MalformedVariants(
      Encode(PaymentRefunded{5, 5, 9, 3000, FromUnixMillis(1234)}), {"v"});
  variants.emplace_back(
      R"({"v":2,"orderId":5,"paymentId":5,"memberId":9,"amount":3000,"refundedAtMs":1})");
  variants.emplace_back(R"({"orderId":5,"paymentId":5,"memberId":9,"amount":-1,"refundedAtMs":1})");
  for (const std::string& payload : variants) {
    Result<PaymentRefunded> decoded = MakeError(Errc::kInternal, "not run");
    EXPECT_NO_THROW(decoded = DecodePaymentRefunded(payload)) << payload;
    EXPECT_FALSE(decoded.ok()) << payload;
  }
}

TEST(CheckoutEvents, SaleChangedRoundTripsAndEveryMalformedOneIsAnError) {
  const SaleChanged changed{
      11, FromUnixMillis(1'700'000'000'000), FromUnixMillis(1'700'000'600'000), 3,
      4,  FromUnixMillis(1'699'999'999'999)};
  const std::string payload = Encode(changed);
  auto decoded = DecodeSaleChanged(payload);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(decoded->product_id, 11);
  EXPECT_EQ(decoded->starts_at, changed.starts_at);
  EXPECT_EQ(decoded->ends_at, changed.ends_at);
  EXPECT_EQ(decoded->per_member_limit, 3);
  EXPECT_EQ(decoded->version, 4);
  EXPECT_EQ(decoded->changed_at, changed.changed_at);
  EXPECT_NE(payload.find(R"("v":1)"), std::string::npos) << payload;

  auto variants = testing::MalformedVariants(payload, {"v"});
  variants.emplace_back(
      R"({"v":2,"productId":1,"startsAtMs":1,"endsAtMs":2,"perMemberLimit":1,"version":1,)"
      R"("changedAtMs":1})");
  variants.emplace_back(
      R"({"productId":1,"startsAtMs":1,"endsAtMs":2,"perMemberLimit":0,"version":1,)"
      R"("changedAtMs":1})");
  variants.emplace_back(
      R"({"productId":1,"startsAtMs":1,"endsAtMs":2,"perMemberLimit":1,"version":0,)"
      R"("changedAtMs":1})");
  for (const std::string& bad : variants) {
    Result<SaleChanged> result = MakeError(Errc::kInternal, "not run");
    EXPECT_NO_THROW(result = DecodeSaleChanged(bad)) << bad;
    EXPECT_FALSE(result.ok()) << bad;
  }
}

}  // namespace
}  // namespace rocketmart::checkout::api
