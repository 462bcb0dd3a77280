// The idempotency in-flight gate in Redis (issue 14): requests in flight under a member's
// Idempotency-Key, shared by every checkout instance, so a retry that lands on another instance
// waits for the first instead of racing it (docs/redis.md "The idempotency gate").
//
// Keys and channel, under `<prefix>idem:`:
//   <member>:<key>  hash t (the first request's token: 128 random bits), h (its request hash),
//                   w (set once a duplicate entered: Leave then publishes). Expires after
//                   claim_ttl (30 s): longer than any live purchase holds the gate (the request
//                   timeout is 10 s, a duplicate waits 5 s), short enough that a dead instance's
//                   claim blocks its key for at most that long.
//   left            the channel a Leave publishes the token on when a duplicate is waiting.
//
// Enter is one script: no claim → claimed (kFirst); a claim with the same request hash →
// kDuplicate (the first's token, and `w` set); another hash → kMismatch. Leave is one script sent
// without waiting (retried a few times on a transport failure): it deletes the claim only if it
// still holds the ticket's token, so a late Leave never releases a newer claim, and publishes the
// token when a duplicate waits. Wait parks on a timer that the token's message cancels; it checks
// the claim once after parking (a Leave published before it parked reached nobody), again after
// every (re)subscription (pub/sub drops messages while disconnected), and on a slow backoff
// (poll_initial doubling to poll_max: a claim that expired because its instance died publishes
// nothing). Never longer than its timeout, never a busy loop.
//
// Redis down: Enter answers kFirst without a claim within the client's deadline (1 s; at once
// while it backs off) and counts it (checkout_idempotency_gate_unavailable_total). That is safe:
// the durable record is claimed in the effect's transaction (exactly one request claims it) and
// CheckoutService answers a claimed key from the record (ports/idempotency_gate.hpp).
//
// Thread-safe. The client and the subscription's executor must outlive the gate.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "infra/metrics/metrics.hpp"
#include "infra/redis/client.hpp"
#include "services/checkout/ports/idempotency_gate.hpp"

namespace rocketmart::checkout {

struct RedisIdempotencyGateOptions {
  std::string prefix = "rocketmart:";  // namespaces every key and the channel
  std::chrono::milliseconds claim_ttl{30'000};
  // A waiter's own look at the claim (besides the Leave's message): first after poll_initial,
  // then doubling up to poll_max.
  std::chrono::milliseconds poll_initial{100};
  std::chrono::milliseconds poll_max{1'000};
  int leave_attempts = 4;                      // sends of one Leave before it is given up
  std::chrono::milliseconds leave_retry{100};  // first pause between sends; doubles
};

class RedisIdempotencyGate final : public IdempotencyGate {
 public:
  // `client` runs the scripts; the subscription to the channel is a connection of its own on
  // `executor` (a subscribed connection takes no other command). Subscribes at once.
  RedisIdempotencyGate(redis::Client& client, boost::asio::io_context::executor_type executor,
                       metrics::Registry& metrics, RedisIdempotencyGateOptions options = {});
  ~RedisIdempotencyGate() override;

  boost::asio::awaitable<Ticket> Enter(std::int64_t member_id, const std::string& key,
                                       const std::string& request_hash) override;
  boost::asio::awaitable<bool> Held(std::int64_t member_id, const std::string& key) override;
  void Leave(std::int64_t member_id, const std::string& key, const Ticket& ticket) override;
  boost::asio::awaitable<bool> Wait(const Ticket& ticket,
                                    std::chrono::milliseconds timeout) override;

  // The Redis key of a member's claim, and the client the gate runs its commands on (so another
  // adapter on the same server may read a claim in its own script: RedisAdmission).
  std::string ClaimKey(std::int64_t member_id, const std::string& key) const;
  const redis::Client& client() const;

  // Whether the channel's subscription is confirmed (a Leave's message then reaches this
  // instance); tests wait for it before measuring wake-ups.
  bool subscribed() const;
  // Leaves sent and not answered yet; Leaves given up; Enters answered without Redis.
  std::int64_t leaves_pending() const;
  std::uint64_t leaves_lost() const;
  std::uint64_t unavailable() const;

  struct Shared;

 private:
  std::shared_ptr<Shared> shared_;
};

}  // namespace rocketmart::checkout
