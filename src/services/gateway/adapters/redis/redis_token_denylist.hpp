// The token deny-list over Redis, for several gateway instances: a denial taken by any instance is
// refused by every instance within the propagation bound (issue 14: 1 s), and the per-request
// check stays what it is embedded: a lookup in process memory, no I/O, never failing.
//
// How an instance learns of a denial: every instance keeps a local replica (the in-memory
// deny-list) that a Redis pub/sub channel feeds. A denial is one Lua script on the server that
// records it (the durable-enough copy every instance reloads from) and publishes it on the channel
// in the same atomic step; the instance that took it applies it to its own replica before the
// awaitable completes, so it refuses the token at once. Every other instance applies the message
// when it arrives (a millisecond on one host). Pub/sub loses messages while a subscriber is
// disconnected, so after every (re)subscription the instance reloads the whole state from Redis;
// a denial written before the subscription was confirmed is in that reload, one written after it
// is in a message: no gap. Applying twice is harmless (denials are idempotent, instants take the
// maximum).
//
// Keys (under `prefix`): deny:tokens and deny:families, sorted sets of "<member>|<id>" scored by
// expiry (ms; pruned of expired members by each write), deny:before, a hash member -> instant (ms,
// only ever raised); channel deny:feed. Redis is not the durable record (the members database is):
// a Redis that lost its data forgets denials until their tokens expire (access tokens are short);
// the reload after a restart cannot bring back what Redis lost. See docs/redis.md.
//
// Thread-safety: as the ports. Lifetime: Start() once; Stop() (or the destructor) before the
// executor's loop stops.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "infra/redis/client.hpp"
#include "services/gateway/adapters/in_memory_token_denylist.hpp"
#include "services/gateway/ports/token_denylist.hpp"

namespace rocketmart::gateway {

class RedisTokenDenylist final : public RevokedTokens, public TokenDenials {
 public:
  // `client` writes and reloads; the subscription gets a connection of its own on `executor`
  // (whose loop also applies the messages). `clock` decides which expired denials a write prunes.
  RedisTokenDenylist(redis::Client& client, boost::asio::io_context::executor_type executor,
                     const Clock& clock, std::string prefix);
  ~RedisTokenDenylist() override;

  // Subscribes; the replica fills once the subscription is confirmed.
  void Start();
  // True once the replica was loaded after the first subscription, waiting up to `timeout`. A
  // gateway should not admit requests before (it could let a revoked token through).
  bool WaitLoaded(std::chrono::milliseconds timeout) const;
  void Stop();

  bool IsRevoked(std::int64_t member_id, std::string_view token_id,
                 TimePoint issued_at) const override;
  // Publishes a marker on the feed and waits until this instance's subscription delivers it: Redis
  // delivers a channel's messages in order, so every denial published before (by any instance,
  // e.g. members recording the logout it answered) has been applied by then.
  boost::asio::awaitable<void> CatchUp(std::chrono::milliseconds bound) const override;
  boost::asio::awaitable<Status> DenyToken(std::int64_t member_id, std::string token_id,
                                           TimePoint expires_at) override;
  boost::asio::awaitable<Status> DenyFamily(std::int64_t member_id, std::string family_id,
                                            TimePoint expires_at) override;
  boost::asio::awaitable<Status> InvalidateBefore(std::int64_t member_id,
                                                  TimePoint valid_after) override;

  // Reloads after (re)subscriptions, for tests and metrics.
  std::uint64_t reloads() const { return reloads_.load(); }

 private:
  boost::asio::awaitable<void> Reload();
  void Apply(const std::string& message);

  redis::Client& client_;
  const boost::asio::io_context::executor_type executor_;
  const Clock& clock_;
  const std::string prefix_;
  InMemoryTokenDenylist replica_;
  std::shared_ptr<redis::Connection> subscriber_;
  struct Marker;  // one CatchUp in progress
  mutable std::mutex markers_mutex_;
  mutable std::unordered_map<std::string, std::shared_ptr<Marker>> markers_;  // by nonce
  mutable std::atomic<std::uint64_t> next_marker_{0};
  const std::string marker_base_;  // random per instance: markers of other gateways never match
  std::atomic<std::uint64_t> reloads_{0};
  std::atomic<bool> loaded_{false};
};

}  // namespace rocketmart::gateway
