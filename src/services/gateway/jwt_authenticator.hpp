// The gateway's authenticator: verifies bearer access tokens (HS256, pinned per key id) and turns
// them into the Identity handed to every module. Services never parse tokens themselves.
// Thread-safe: the keyring is immutable after construction; the denylist is internally locked.
#pragma once

#include <atomic>
#include <cstdint>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "auth/jwt.hpp"
#include "core/clock.hpp"
#include "infra/http/server.hpp"
#include "infra/metrics/metrics.hpp"

namespace rocketmart::gateway {

// Access tokens void before their `exp`: denied token ids, denied session families (logout,
// refresh-token reuse: every access token whose jti is "<family>.<random>") and, per member,
// "issued before T" (logout-all, password change or reset). Fed by the members service
// (replayed from its database at start). The check costs one hash lookup by member id under a
// shared lock, and nothing at all while nobody was ever revoked. Memory: one entry per member
// ever revoked plus their denied token ids and families until those expire (pruned on insert).
// Thread-safe.
class TokenDenylist {
 public:
  void DenyToken(std::int64_t member_id, const std::string& token_id, TimePoint expires_at,
                 TimePoint now);
  // Every access token of the member whose jti starts with "<family_id>." until `expires_at`
  // (the latest expiry any of them can have). An empty family denies nothing.
  void DenyFamily(std::int64_t member_id, const std::string& family_id, TimePoint expires_at,
                  TimePoint now);
  void InvalidateBefore(std::int64_t member_id, TimePoint valid_after);
  bool IsRevoked(std::int64_t member_id, std::string_view token_id, TimePoint issued_at) const;

 private:
  using Denials = std::vector<std::pair<std::string, TimePoint>>;  // id, expires at
  struct Entry {
    TimePoint valid_after{};
    Denials denied;    // token ids
    Denials families;  // refresh family ids
  };
  void Deny(std::int64_t member_id, Denials Entry::*list, const std::string& id,
            TimePoint expires_at, TimePoint now);
  std::atomic<bool> empty_{true};
  mutable std::shared_mutex mu_;
  std::unordered_map<std::int64_t, Entry> members_;
};

class JwtAuthenticator final : public http::Authenticator {
 public:
  JwtAuthenticator(auth::Keyring keyring, auth::VerifyOptions options, const Clock& clock,
                   metrics::Registry& metrics);
  Result<auth::Identity> Authenticate(std::string_view bearer_token) const override;
  // Optional; set before the server starts. Must outlive the authenticator.
  void SetDenylist(const TokenDenylist* denylist) { denylist_ = denylist; }

 private:
  // Keys this object's entries in the per-thread cache of verified tokens (never reused, unlike
  // an address).
  const std::uint64_t cache_id_;
  const TokenDenylist* denylist_ = nullptr;
  const auth::Keyring keyring_;
  const auth::VerifyOptions options_;
  const Clock& clock_;
  metrics::Counter& rejected_;
};

}  // namespace rocketmart::gateway
