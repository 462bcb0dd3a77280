// Port: checkout's durable state — inventory (available / held / sold), sales, holds, payments,
// the stock ledger and idempotency keys. Implemented by adapters/sqlite_inventory_store.
//
// Writes are coroutines that complete after their transaction committed. Each write is one
// transaction that either happens whole or not at all; a business refusal (sold out, limit,
// wrong state) leaves nothing behind. Reads marked "start-up" block and are for recovery only.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/result.hpp"
#include "services/checkout/domain/hold.hpp"
#include "services/checkout/domain/sale.hpp"
#include "services/checkout/ports/payment_provider.hpp"

namespace rocketmart::checkout {

struct InventoryRow {
  std::int64_t product_id = 0;
  std::int64_t price = 0;
  std::int64_t initial = 0;
  std::int64_t restocked = 0;
  std::int64_t available = 0;
  std::int64_t held = 0;
  std::int64_t sold = 0;
  bool retired = false;
  std::int64_t catalog_version = 0;  // of the catalog's product event last applied
};

// What a request asked, under which key: stored with the first effect of the request, so a retry
// finds it even after a crash and is answered from the durable outcome.
struct IdempotencyTag {
  std::string key;
  std::string request_hash;
  std::string operation;  // "purchase" | "hold" | "pay"
};

struct IdempotencyEntry {
  std::string request_hash;
  std::string operation;
  std::int64_t hold_id = 0;
};

// The durable outcome of a hold, from which every answer about it is built.
struct HoldOutcome {
  Hold hold;
  std::optional<std::int64_t> payment_id;
  TimePoint paid_at;           // when payment_id is set
  std::string release_reason;  // CANCELLED | DECLINED | EXPIRED | RECOVERED, when released
};

enum class ReleaseReason { kCancelled, kDeclined, kExpired, kRecovered };
std::string_view ReleaseReasonName(ReleaseReason reason);

struct HoldRequest {
  std::int64_t member_id = 0;
  std::vector<HoldLine> lines;  // prices filled in by the service from inventory
  std::unordered_map<std::int64_t, std::int64_t> per_member_limits;  // by product
  TimePoint now;
  TimePoint expires_at;
  bool pay_now = false;  // one-shot purchase: the hold starts in PAYING
  std::optional<IdempotencyTag> idempotency;
  // A hold still queued for the writer at this moment is not placed (kTimeout, nothing written):
  // its buyer has been answered or has given up, and the units stay sellable to the next one.
  Deadline start_by = kNoDeadline;
};

// What checkout learns about a product from the catalog's events.
struct ProductFacts {
  std::int64_t product_id = 0;
  std::int64_t price = 0;
  std::int64_t initial_stock = 0;
  bool retired = false;
  std::int64_t version = 0;  // catalog version: older facts never overwrite newer ones
  std::string name;          // carried on order lines (empty from events that predate names)
};

// A captured payment taken back: its units returned from `sold` to `available` (orders issue 6).
struct RefundedPayment {
  std::int64_t payment_id = 0;
  std::int64_t hold_id = 0;  // the provider's idempotency key for the refund
  std::int64_t member_id = 0;
  std::int64_t amount = 0;
  std::vector<HoldLine> lines;
};

// A line of a paid purchase with the product's name (as checkout last heard it from the catalog).
struct PaidLine {
  HoldLine line;
  std::string name;
};

// A captured payment as the order it creates (orders read it before order.paid arrives).
struct PaidPurchase {
  std::int64_t payment_id = 0;  // = the order id
  std::int64_t member_id = 0;
  std::int64_t total = 0;
  TimePoint paid_at;
  std::vector<PaidLine> lines;
};

// Checkout's figures for one product's sale (the operator's per-sale summary).
struct ProductSaleFigures {
  std::int64_t available = 0;
  std::int64_t held = 0;
  std::int64_t sold = 0;
  std::int64_t refunded_units = 0;
  std::int64_t revenue = 0;  // captured and not refunded
  std::int64_t refunded_amount = 0;
};

// A member's open holds, newest first: ACTIVE ones not yet expired and PAYING ones.
struct OpenHoldsPage {
  std::vector<Hold> items;
  std::int64_t total = 0;  // all the member's open holds, not only this page's
};

struct InvariantReport {
  std::int64_t product_id = 0;
  std::string problem;
};

class InventoryStore {
 public:
  virtual ~InventoryStore() = default;

  // Start-up reads.
  virtual std::vector<InventoryRow> LoadInventory() = 0;
  virtual std::vector<std::pair<std::int64_t, Sale>> LoadSales() = 0;
  virtual std::unordered_map<std::int64_t, std::unordered_map<std::int64_t, std::int64_t>>
  LoadMemberUnits() = 0;
  virtual std::vector<std::int64_t> HoldsInStatus(HoldStatus status) = 0;
  // Conservation per product and agreement of held/sold with the holds table.
  virtual std::vector<InvariantReport> CheckInvariants() = 0;

  // Reads on request threads (a reader connection; no writer involvement).
  virtual std::optional<IdempotencyEntry> FindIdempotency(std::int64_t member_id,
                                                          std::string_view key) = 0;
  virtual std::optional<HoldOutcome> FindHold(std::int64_t hold_id) = 0;
  // The payment with this id (captured, refunded or not), as the order it created.
  virtual std::optional<PaidPurchase> FindPaidPurchase(std::int64_t payment_id) = 0;
  // The member's open holds at `now` with ids below `before_id` (0 = from the newest), at most
  // `limit`, with their lines.
  virtual OpenHoldsPage OpenHolds(std::int64_t member_id, TimePoint now, std::int64_t before_id,
                                  std::size_t limit) = 0;

  // Writes.
  // Guarded: fails with kSoldOut/kInsufficientStock or kPurchaseLimitReached if the database
  // disagrees with admission. kConflict if the idempotency key was taken meanwhile.
  virtual boost::asio::awaitable<Result<Hold>> PlaceHold(HoldRequest request) = 0;
  // ACTIVE -> PAYING for the owner, only before expiry.
  virtual boost::asio::awaitable<Result<Hold>> BeginPayment(
      std::int64_t hold_id, std::int64_t member_id, TimePoint now,
      std::optional<IdempotencyTag> idempotency) = 0;
  // PAYING -> PAID: payment captured, stock sold, outbox order.paid. Idempotent: a hold already
  // PAID answers its existing order.
  virtual boost::asio::awaitable<Result<PaidOrder>> CompletePayment(std::int64_t hold_id,
                                                                    ChargeRecord charge,
                                                                    TimePoint now) = 0;
  // `from` -> RELEASED|EXPIRED, stock returned. member_id 0 = any member (system releases).
  virtual boost::asio::awaitable<Result<ReleasedUnits>> ReleaseHold(std::int64_t hold_id,
                                                                    std::int64_t member_id,
                                                                    HoldStatus from,
                                                                    ReleaseReason reason,
                                                                    TimePoint now) = 0;
  // Expires up to `limit` ACTIVE holds whose TTL passed, in one transaction.
  virtual boost::asio::awaitable<Result<std::vector<ReleasedUnits>>> ExpireDue(
      TimePoint now, std::size_t limit) = 0;
  // Forgets up to `limit` idempotency records created before `created_before` whose hold is
  // settled (not ACTIVE or PAYING); a retry of an open purchase is always recognised. Returns how
  // many were forgotten.
  virtual boost::asio::awaitable<Result<std::size_t>> ForgetIdempotencyKeys(
      TimePoint created_before, std::size_t limit) = 0;
  virtual boost::asio::awaitable<Result<InventoryRow>> Restock(std::int64_t product_id,
                                                               std::int64_t quantity,
                                                               TimePoint now) = 0;
  virtual boost::asio::awaitable<Status> SaveSale(std::int64_t product_id, Sale sale,
                                                  TimePoint now) = 0;

  // Applies a catalog product event (created / updated / retired) exactly once per event id and
  // returns the resulting row (nullopt if the event was a duplicate or stale). Blocks: call it
  // from an event-relay thread, never from an I/O thread.
  virtual std::optional<InventoryRow> ApplyProductFacts(const ProductFacts& facts,
                                                        std::string_view event_id,
                                                        TimePoint now) = 0;

  // Refunds and restocks (order cancelled or return received). Not pure: stores that predate
  // refunds (test doubles) keep compiling and simply never refund.
  //
  // One transaction: claims `event_id` for `consumer`, moves the payment CAPTURED -> REFUNDED
  // with refund_pending set, returns its units from sold to available (ledger RETURN) and from the
  // member's per-sale count. nullopt when the event or the payment was already handled (or is
  // unknown): exactly once per payment, whatever the redelivery. Blocks: relay thread.
  virtual std::optional<RefundedPayment> RefundPayment(std::int64_t /*payment_id*/,
                                                       std::string_view /*consumer*/,
                                                       std::string_view /*event_id*/,
                                                       TimePoint /*now*/) {
    return std::nullopt;
  }
  // Payments refunded here whose provider refund has not been confirmed yet. Blocks.
  virtual std::vector<RefundedPayment> PendingRefunds(std::size_t /*limit*/) { return {}; }
  // The provider confirmed the refund: clears refund_pending and, once per payment, puts
  // payment.refunded in the outbox (the orders service shows it on the order). Blocks.
  virtual void SettleRefund(std::int64_t /*payment_id*/, TimePoint /*now*/) {}
  virtual std::optional<ProductSaleFigures> SaleFigures(std::int64_t /*product_id*/) {
    return std::nullopt;
  }
};

}  // namespace rocketmart::checkout
