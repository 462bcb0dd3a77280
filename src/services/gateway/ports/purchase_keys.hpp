// Port: checkout's state of a member's Idempotency-Key, as the gateway reads it before it repeats
// a keyed sold-out answer itself (docs/adr/0049). A key that a request holds, or that may have a
// durable record, must reach checkout: its answer may be a purchase (a replay, or the original in
// flight). Bound to checkout's Redis state when the services run apart
// (services/checkout/clients/redis/purchase_keys.hpp); no binding: every keyed request is
// forwarded. Thread-safe.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <string_view>

namespace rocketmart::gateway {

class PurchaseKeys {
 public:
  virtual ~PurchaseKeys() = default;
  // True only when checkout certainly has nothing for the member's key: no request holds it and
  // no record of it may exist. Anything unknown (its store down, an error) answers false.
  virtual boost::asio::awaitable<bool> Unused(std::int64_t member_id, std::string_view key) = 0;
};

}  // namespace rocketmart::gateway
