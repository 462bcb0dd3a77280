// Port: refunds of captured payments (an order cancelled, a return received) and their settlement
// with the provider. Implemented by adapters/sqlite_checkout_stores (SqliteRefundStore).
//
// A refund is two steps: RefundPayment takes the payment back in one transaction (its units
// return to sale) and leaves the provider's refund pending; SettleRefund records the provider's
// confirmation. Each happens once per payment, whatever the redelivery and however many workers:
// the event is claimed in the refund's transaction and every step is a guarded UPDATE. Pending
// refunds are leased to the worker that asks the provider, so two workers do not both ask.
//
// Convention: every call is awaitable and answers a Result (infrastructure failures throw).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "services/checkout/domain/hold.hpp"

namespace rocketmart::checkout {

// A captured payment taken back: its units returned from `sold` to `available` (orders issue 6).
struct RefundedPayment {
  std::int64_t payment_id = 0;
  std::int64_t hold_id = 0;  // the provider's idempotency key for the refund
  std::int64_t member_id = 0;
  std::int64_t amount = 0;
  std::vector<HoldLine> lines;
};

class RefundStore {
 public:
  virtual ~RefundStore() = default;
  // One transaction: claims `event_id` for `consumer`, moves the payment CAPTURED -> REFUNDED with
  // its provider refund pending (leased to `worker` until `lease_until`: the caller asks the
  // provider at once), returns its units from sold to available (ledger RETURN) and from the
  // member's units. nullopt when the event or the payment was handled already, or is unknown.
  virtual boost::asio::awaitable<Result<std::optional<RefundedPayment>>> RefundPayment(
      std::int64_t payment_id, std::string consumer, std::string event_id, std::string worker,
      TimePoint lease_until, TimePoint now) = 0;
  // Claims up to `limit` pending refunds whose lease ran out by `now` for `worker` until
  // `lease_until`, oldest first.
  virtual boost::asio::awaitable<Result<std::vector<RefundedPayment>>> ClaimPendingRefunds(
      std::string worker, TimePoint now, TimePoint lease_until, std::size_t limit) = 0;
  // `worker` gives up its lease (the provider did not answer): the next claim may take it at once.
  virtual boost::asio::awaitable<Status> ReleaseRefund(std::int64_t payment_id,
                                                       std::string worker) = 0;
  // The provider confirmed the refund: clears the pending mark and, once per payment, puts
  // payment.refunded in the outbox. True when this call settled it.
  virtual boost::asio::awaitable<Result<bool>> SettleRefund(std::int64_t payment_id,
                                                            TimePoint now) = 0;
};

}  // namespace rocketmart::checkout
