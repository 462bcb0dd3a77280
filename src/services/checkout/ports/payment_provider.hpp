// Port: the card processor. Every call is idempotent by hold id (the provider's idempotency key),
// so a retry after a crash never charges twice, and Lookup tells what happened to a charge whose
// answer was lost.
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
  // What the provider recorded for this hold, if anything. Start-up recovery only (blocking).
  virtual std::optional<ChargeRecord> Lookup(std::int64_t hold_id) = 0;
  // Refunds a captured charge; repeating it is a no-op.
  virtual boost::asio::awaitable<Result<ChargeRecord>> Refund(std::int64_t hold_id) = 0;
};

}  // namespace rocketmart::checkout
