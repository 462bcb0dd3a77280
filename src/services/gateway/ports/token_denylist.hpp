// Ports: the token deny-list, the access tokens void before their `exp`. Three kinds of denial:
// one token id (a logged-out token minted without a session), a whole session (every access token
// whose jti is "<refresh family>.<random>": logout, refresh-token reuse) and, per member, "issued
// before T" (logout-all, password change or reset). The members database is the durable record;
// these ports are what the gateway checks.
//
// Two sides, one convention each, both implemented by every adapter:
//  - TokenDenials (write): awaitable, because a shared store (Redis, next) can fail; a denial is
//    idempotent, an "issued before" instant only ever moves forward. When the awaitable completed
//    with Ok, IsRevoked on the same instance answers true at once, and on every other instance
//    over the same store within the adapter's propagation bound.
//  - RevokedTokens (read): the check every authenticated request pays. Answered from process
//    memory (a shared adapter keeps a local replica its store feeds), so it never blocks and
//    never fails. A denial is kept at least until its `expires_at` (the latest expiry a token it
//    covers can have); after that the token is refused by its own `exp` anyway. CatchUp is the
//    read side's barrier: when it returns, every denial completed (on any instance) before it was
//    called is in this instance's answers, so the client whose logout another process recorded
//    is refused at once by the gateway that relayed it (bounded: with the store down it returns
//    after `bound`, and the propagation bound applies).
// Thread-safe.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/clock.hpp"
#include "core/result.hpp"

namespace rocketmart::gateway {

class RevokedTokens {
 public:
  virtual ~RevokedTokens() = default;
  // True when the access token (member, jti, iat) was denied.
  virtual bool IsRevoked(std::int64_t member_id, std::string_view token_id,
                         TimePoint issued_at) const = 0;
  virtual boost::asio::awaitable<void> CatchUp(std::chrono::milliseconds bound) const = 0;
};

class TokenDenials {
 public:
  virtual ~TokenDenials() = default;
  // The access token with this jti, until `expires_at`.
  virtual boost::asio::awaitable<Status> DenyToken(std::int64_t member_id, std::string token_id,
                                                   TimePoint expires_at) = 0;
  // Every access token of the member whose jti starts with "<family_id>." until `expires_at`. An
  // empty family denies nothing (a token minted outside a session has no family).
  virtual boost::asio::awaitable<Status> DenyFamily(std::int64_t member_id, std::string family_id,
                                                    TimePoint expires_at) = 0;
  // Every access token of the member issued before `valid_after` (kept as the latest instant).
  virtual boost::asio::awaitable<Status> InvalidateBefore(std::int64_t member_id,
                                                          TimePoint valid_after) = 0;
};

}  // namespace rocketmart::gateway
