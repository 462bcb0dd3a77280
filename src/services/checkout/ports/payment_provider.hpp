// Port: the card processor. Every call is idempotent by hold id (the provider's idempotency key),
// so a retry after a crash never charges twice, and Lookup tells what happened to a charge whose
// answer was lost.
//
// Convention: every call is awaitable and answers a Result: an error (kUnavailable, kTimeout, ...)
// means the provider's answer is unknown, and the caller retries later with the same hold id.
// Calls must not block the calling thread (an adapter around a blocking client runs it on its own
// threads); the service still runs its provider-facing maintenance apart from the hold sweeper
// (docs/adr/0004-purchase-path.md), so a provider that stalls delays nothing else.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <optional>
#include <string>

#include "core/result.hpp"

namespace rocketmart::checkout {

enum class ChargeOutcome { kCaptured, kDeclined, kRefunded };

struct ChargeRecord {
  ChargeOutcome outcome = ChargeOutcome::kDeclined;
  std::string reference;  // the provider's id for the charge
};

class PaymentProvider {
 public:
  virtual ~PaymentProvider() = default;
  // Charges `amount` for hold `hold_id`. Repeating the call returns the first outcome.
  virtual boost::asio::awaitable<Result<ChargeRecord>> Charge(std::int64_t hold_id,
                                                              std::int64_t member_id,
                                                              std::int64_t amount) = 0;
  // What the provider recorded for this hold; nullopt when it never charged it.
  virtual boost::asio::awaitable<Result<std::optional<ChargeRecord>>> Lookup(
      std::int64_t hold_id) = 0;
  // Closes the hold at the provider: unless a charge is recorded, records that none will be, so a
  // Charge still in flight (an instance that stalled past its payment lease) answers kDeclined
  // instead of capturing money for a hold already given back. Answers the charge recorded before,
  // or nullopt when the hold is void (now or before). What a processor's "cancel the payment"
  // is; settling a stale payment from a plain Lookup would race such a charge.
  virtual boost::asio::awaitable<Result<std::optional<ChargeRecord>>> Void(
      std::int64_t hold_id) = 0;
  // Refunds a captured charge; repeating it answers the refunded record again. kNotFound for a
  // hold never charged, kConflict for a declined charge.
  virtual boost::asio::awaitable<Result<ChargeRecord>> Refund(std::int64_t hold_id) = 0;
};

}  // namespace rocketmart::checkout
