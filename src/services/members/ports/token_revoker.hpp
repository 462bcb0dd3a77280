// Port: tells whoever verifies access tokens (the gateway) that some tokens are void before they
// expire. Embedded, the composition root binds it to the gateway's in-memory denylist;
// distributed, it would publish to Redis. The members database stays the durable record: the
// service replays it into the revoker at start. Thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "core/clock.hpp"

namespace rocketmart::members {

class TokenRevoker {
 public:
  virtual ~TokenRevoker() = default;
  // The access token with this `jti` is void until it expires on its own.
  virtual void DenyToken(std::int64_t member_id, const std::string& token_id,
                         TimePoint expires_at) = 0;
  // Every access token of one session (refresh family): those whose jti is "<family_id>.<random>"
  // are void until `expires_at`, the latest expiry any of them can have.
  virtual void DenyFamily(std::int64_t member_id, const std::string& family_id,
                          TimePoint expires_at) = 0;
  // Every access token of the member issued before `valid_after` (whole seconds) is void.
  virtual void InvalidateBefore(std::int64_t member_id, TimePoint valid_after) = 0;
};

}  // namespace rocketmart::members
