// Port: checkout's figures for one product's sale (stock held and sold, refunds, revenue), which
// the orders service combines with its own order counts into the operator's per-sale summary.
// Bound in the composition root (in-process: CheckoutService); distributed, an HTTP client of
// checkout: the call is awaitable and may fail (kUnavailable when checkout cannot be asked, which
// the summary answers 503 UNAVAILABLE). Orders never reads checkout's tables.
//
// `deadline` is the operator's request's (no default: every caller decides): the HTTP binding
// stops at it and passes the time left to checkout (X-Request-Deadline-Ms); the in-process binding
// reads checkout's store directly, waits for no other process, and ignores it.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <optional>

#include "core/clock.hpp"
#include "core/result.hpp"

namespace rocketmart::orders {

struct SaleFigures {
  std::int64_t available = 0;
  std::int64_t held = 0;             // units in unpaid holds
  std::int64_t sold = 0;             // units paid and not refunded
  std::int64_t refunded_units = 0;   // units refunded and restocked (cancels + received returns)
  std::int64_t revenue = 0;          // captured and not refunded, minor units
  std::int64_t refunded_amount = 0;  // minor units
};

class SaleFiguresSource {
 public:
  virtual ~SaleFiguresSource() = default;
  // nullopt for a product checkout does not know. Thread-safe.
  virtual boost::asio::awaitable<Result<std::optional<SaleFigures>>> Figures(
      std::int64_t product_id, Deadline deadline) = 0;
};

}  // namespace rocketmart::orders
