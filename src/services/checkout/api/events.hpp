// The events checkout publishes (source "checkout"): topic names, payloads and their codecs, used
// by checkout's store to encode and by every consumer to decode. Nothing else in the code base
// reads or writes these payloads.
//
// Versioning (every event of every service, see docs/adr/0007-event-port.md): a payload carries
// "v", its schema version (absent in events written before versions existed: read as 1). A field
// added later is optional to decoders (an old event without it still decodes, with a default) and
// does not change "v"; decoders ignore fields they do not know, so a newer producer may add some.
// Removing, renaming or retyping a field, or changing what it means, is a new version: decoders
// learn it before producers write it, and a decoder refuses a version newer than it knows (the
// event is set aside as a dead letter, replayable once the consumer is upgraded).
//
// Decoders never throw: a malformed payload is an Error, which subscribers turn into
// events::MalformedEvent (events::DecodedOrSetAside).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"

namespace rocketmart::checkout::api {

inline constexpr std::string_view kSource = "checkout";

// A purchase was paid: one order with its lines. The order id is the payment id.
inline constexpr std::string_view kOrderPaid = "order.paid";
inline constexpr std::int64_t kOrderPaidVersion = 1;

struct OrderPaidLine {
  std::int64_t product_id = 0;
  std::int64_t quantity = 0;
  std::int64_t price = 0;
  std::string name;  // added in issue 11, without a version change: "" in older events
};

struct OrderPaid {
  std::int64_t order_id = 0;
  std::int64_t payment_id = 0;
  std::int64_t hold_id = 0;
  std::int64_t member_id = 0;
  std::int64_t total = 0;
  std::vector<OrderPaidLine> lines;
  TimePoint paid_at;  // millisecond precision
};

std::string Encode(const OrderPaid& event);
Result<OrderPaid> DecodeOrderPaid(std::string_view payload);

// A refund the provider confirmed (of an order cancelled or returned).
inline constexpr std::string_view kPaymentRefunded = "payment.refunded";
inline constexpr std::int64_t kPaymentRefundedVersion = 1;

struct PaymentRefunded {
  std::int64_t order_id = 0;
  std::int64_t payment_id = 0;
  std::int64_t member_id = 0;
  std::int64_t amount = 0;
  TimePoint refunded_at;  // millisecond precision
};

std::string Encode(const PaymentRefunded& event);
Result<PaymentRefunded> DecodePaymentRefunded(std::string_view payload);

// An operator set or changed a product's sale (PUT /payment/{id}/sale), in the transaction of the
// write. Checkout itself consumes it: every checkout instance refreshes its memory of the sale
// (a cache refresh). `version` is the sale's own, per product, +1 per write (1 for the first): an
// older or redelivered event changes nothing an instance already has.
inline constexpr std::string_view kSaleChanged = "sale.changed";
inline constexpr std::int64_t kSaleChangedVersion = 1;

struct SaleChanged {
  std::int64_t product_id = 0;
  TimePoint starts_at;  // millisecond precision
  TimePoint ends_at;
  std::int64_t per_member_limit = 0;
  std::int64_t version = 0;
  TimePoint changed_at;
};

std::string Encode(const SaleChanged& event);
Result<SaleChanged> DecodeSaleChanged(std::string_view payload);

}  // namespace rocketmart::checkout::api
