// Port: holds and the payments that settle them — the purchase path's transactions. Implemented by
// adapters/sqlite_checkout_stores (SqliteHoldStore).
//
// Each write is one transaction that happens whole or not at all, and answers after it committed;
// a business refusal (sold out, limit, wrong state, key taken) leaves nothing behind. Placing a
// hold writes, together: the guarded stock UPDATE (available >= q: the truth about stock, whatever
// admission believed), the member's units guarded by the sale's limit, the hold and its lines,
// the stock ledger and the idempotency record — one operation of this port, never split across
// ports. Every transition is guarded by the status it expects, so racing callers (a payment, the
// member's cancel, a sweeper, another instance's sweeper) resolve a hold exactly once:
//   ACTIVE -> PAYING -> PAID | RELEASED,  ACTIVE -> RELEASED,  ACTIVE -> EXPIRED.
//
// Payments in flight are leased: the hold records who is paying it (`worker`) and until when; a
// resolver on any instance claims only holds whose lease ran out (or, at start, its own), so two
// resolvers never settle the same hold and none settles a payment another instance is making.
//
// Convention: every call is awaitable and answers a Result (kOverloaded when the store sheds
// load; infrastructure failures throw); reads may complete inline.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "services/checkout/domain/hold.hpp"
#include "services/checkout/ports/idempotency_store.hpp"
#include "services/checkout/ports/payment_provider.hpp"

namespace rocketmart::checkout {

// The durable outcome of a hold, from which every answer about it is built.
struct HoldOutcome {
  Hold hold;
  std::optional<std::int64_t> payment_id;
  TimePoint paid_at;           // when payment_id is set
  std::string release_reason;  // CANCELLED | DECLINED | EXPIRED | RECOVERED, when released
};

struct HoldRequest {
  std::int64_t member_id = 0;
  std::vector<HoldLine> lines;  // prices filled in by the service from inventory
  std::unordered_map<std::int64_t, std::int64_t> per_member_limits;  // by product
  TimePoint now;
  TimePoint expires_at;
  bool pay_now = false;  // one-shot purchase: the hold starts in PAYING, leased as below
  std::string worker;    // who pays it (pay_now)
  TimePoint payment_lease_until;
  std::optional<IdempotencyTag> idempotency;
  // A hold still queued for the writer at this moment is not placed (kTimeout, nothing written):
  // its buyer has been answered or has given up, and the units stay sellable to the next one.
  Deadline start_by = kNoDeadline;
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

// A member's open holds, newest first: ACTIVE ones not yet expired and PAYING ones.
struct OpenHoldsPage {
  std::vector<Hold> items;
  std::int64_t total = 0;  // all the member's open holds, not only this page's
};

class HoldStore {
 public:
  virtual ~HoldStore() = default;

  // Guarded: kSoldOut or kPurchaseLimitReached when the database disagrees with admission
  // (kSoldOut for a retired or unknown product too); kRequestInFlight when the idempotency key is
  // claimed already (by a committed request: its record answers), checked before any other
  // refusal, so a retry is never refused for what its first request took; kTimeout past
  // `start_by`.
  virtual boost::asio::awaitable<Result<Hold>> PlaceHold(HoldRequest request) = 0;
  // ACTIVE -> PAYING for the owner, only before expiry, leased to `worker` until `lease_until`.
  // kRequestInFlight (key claimed already, checked first), kNotFound (missing or another
  // member's), kHoldExpired, kHoldNotActive.
  virtual boost::asio::awaitable<Result<Hold>> BeginPayment(
      std::int64_t hold_id, std::int64_t member_id, TimePoint now,
      std::optional<IdempotencyTag> idempotency, std::string worker, TimePoint lease_until) = 0;
  // PAYING -> PAID: payment captured, stock held -> sold, order.paid in the outbox. Idempotent: a
  // hold already PAID answers its existing order. kHoldNotActive for any other status.
  virtual boost::asio::awaitable<Result<PaidOrder>> CompletePayment(std::int64_t hold_id,
                                                                    ChargeRecord charge,
                                                                    TimePoint now) = 0;
  // `from` -> RELEASED, stock and member units returned. member_id 0 = any member (system
  // releases). kNotFound, kHoldExpired, kHoldNotActive.
  virtual boost::asio::awaitable<Result<ReleasedUnits>> ReleaseHold(std::int64_t hold_id,
                                                                    std::int64_t member_id,
                                                                    HoldStatus from,
                                                                    ReleaseReason reason,
                                                                    TimePoint now) = 0;
  // Expires up to `limit` ACTIVE holds whose TTL passed, in one transaction; each hold once, with
  // any number of sweepers over the store.
  virtual boost::asio::awaitable<Result<std::vector<ReleasedUnits>>> ExpireDue(
      TimePoint now, std::size_t limit) = 0;
  // Claims up to `limit` PAYING holds for `worker` until `lease_until`: those whose payment lease
  // ran out by `now` and, with `include_own`, those `worker` leased itself (a restart settles
  // what its previous run left). A claimed hold is not claimed again before its new lease ends.
  // Returns the claimed hold ids, oldest first.
  virtual boost::asio::awaitable<Result<std::vector<std::int64_t>>> ClaimStalePayments(
      std::string worker, TimePoint now, TimePoint lease_until, bool include_own,
      std::size_t limit) = 0;

  virtual boost::asio::awaitable<Result<std::optional<HoldOutcome>>> FindHold(
      std::int64_t hold_id) = 0;
  // The payment with this id (captured, refunded or not), as the order it created.
  virtual boost::asio::awaitable<Result<std::optional<PaidPurchase>>> FindPaidPurchase(
      std::int64_t payment_id) = 0;
  // The member's open holds at `now` with ids below `before_id` (0 = from the newest), at most
  // `limit`, with their lines.
  virtual boost::asio::awaitable<Result<OpenHoldsPage>> OpenHolds(std::int64_t member_id,
                                                                  TimePoint now,
                                                                  std::int64_t before_id,
                                                                  std::size_t limit) = 0;
};

}  // namespace rocketmart::checkout
