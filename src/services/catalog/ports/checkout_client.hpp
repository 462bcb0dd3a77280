// Port: the cart's way to buy. Bound in-process to checkout's purchase path by the composition
// root (distributed: an HTTP client). Checkout holds every line at once, all or nothing, pays once
// and answers after the commit; per-product sale windows and member limits apply.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"

namespace rocketmart::catalog {

struct CheckoutLine {
  std::int64_t product_id = 0;
  std::int64_t quantity = 0;
};

// A paid purchase, first or replayed, with what it bought and when it was paid (a replay that
// ends a cart checkout left open by a crash removes exactly these lines).
struct CheckoutReceipt {
  std::int64_t order_id = 0;
  std::int64_t payment_id = 0;
  std::int64_t total = 0;
  std::vector<CheckoutLine> lines;
  TimePoint paid_at;
};

struct CheckoutAnswer {
  Result<CheckoutReceipt> result;
  bool replayed = false;  // answered from an earlier request with the same Idempotency-Key
};

struct CheckoutKey {
  std::string key;
  std::string fingerprint;
};

class CheckoutClient {
 public:
  virtual ~CheckoutClient() = default;
  virtual boost::asio::awaitable<CheckoutAnswer> Purchase(std::int64_t member_id,
                                                          bool email_verified,
                                                          std::vector<CheckoutLine> lines,
                                                          std::optional<CheckoutKey> key,
                                                          Deadline start_by) = 0;
};

}  // namespace rocketmart::catalog
