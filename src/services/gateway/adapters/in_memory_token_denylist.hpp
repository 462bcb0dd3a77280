// The token deny-list in process memory: the embedded adapter of both deny-list ports (one
// process, so "every instance" is this one). The check costs one hash lookup by member id under a
// shared lock, and nothing at all while nobody was ever revoked. Memory: one entry per member
// ever revoked plus their denied token ids and families until those expire (pruned on insert).
// Thread-safe.
#pragma once

#include <atomic>
#include <shared_mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "services/gateway/ports/token_denylist.hpp"

namespace rocketmart::gateway {

class InMemoryTokenDenylist final : public RevokedTokens, public TokenDenials {
 public:
  // `clock` only decides which expired denials an insert may prune.
  explicit InMemoryTokenDenylist(const Clock& clock) : clock_(clock) {}

  bool IsRevoked(std::int64_t member_id, std::string_view token_id,
                 TimePoint issued_at) const override;
  // One store in this process: every completed denial is already in the answers.
  boost::asio::awaitable<void> CatchUp(std::chrono::milliseconds /*bound*/) const override {
    co_return;
  }
  boost::asio::awaitable<Status> DenyToken(std::int64_t member_id, std::string token_id,
                                           TimePoint expires_at) override;
  boost::asio::awaitable<Status> DenyFamily(std::int64_t member_id, std::string family_id,
                                            TimePoint expires_at) override;
  boost::asio::awaitable<Status> InvalidateBefore(std::int64_t member_id,
                                                  TimePoint valid_after) override;

 private:
  using Denials = std::vector<std::pair<std::string, TimePoint>>;  // id, expires at
  struct Entry {
    TimePoint valid_after{};
    Denials denied;    // token ids
    Denials families;  // refresh family ids
  };
  void Deny(std::int64_t member_id, Denials Entry::*list, std::string id, TimePoint expires_at);

  const Clock& clock_;
  std::atomic<bool> empty_{true};
  mutable std::shared_mutex mu_;
  std::unordered_map<std::int64_t, Entry> members_;
};

}  // namespace rocketmart::gateway
