// Port: tells whoever verifies access tokens (the gateway) that some tokens are void before they
// expire. Embedded, the composition root binds it to the gateway's deny-list; distributed, it
// publishes to the shared deny-list store (Redis). The members database stays the durable record:
// the service replays it into the revoker at start, and again after a publication failed.
//
// Each call completes once the gateway will refuse the tokens (same promise as the gateway's
// TokenDenials port); an error means it may not yet, and the caller must not report the
// revocation as done. Calls are idempotent, so replaying the durable record is harmless.
// Thread-safe.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <string>

#include "core/clock.hpp"
#include "core/result.hpp"

namespace rocketmart::members {

class TokenRevoker {
 public:
  virtual ~TokenRevoker() = default;
  // The access token with this `jti` is void until it expires on its own.
  virtual boost::asio::awaitable<Status> DenyToken(std::int64_t member_id, std::string token_id,
                                                   TimePoint expires_at) = 0;
  // Every access token of one session (refresh family): those whose jti is "<family_id>.<random>"
  // are void until `expires_at`, the latest expiry any of them can have.
  virtual boost::asio::awaitable<Status> DenyFamily(std::int64_t member_id, std::string family_id,
                                                    TimePoint expires_at) = 0;
  // Every access token of the member issued before `valid_after` (whole seconds) is void.
  virtual boost::asio::awaitable<Status> InvalidateBefore(std::int64_t member_id,
                                                          TimePoint valid_after) = 0;
};

}  // namespace rocketmart::members
