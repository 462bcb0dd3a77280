// Port: requests in flight under an Idempotency-Key. The first request with a member's key does
// the work; identical duplicates that arrive meanwhile wait (bounded) for it and are then answered
// from the durable record (IdempotencyStore), so N concurrent retries produce one effect and N
// identical answers; the same key with a different request is refused at once.
//
// The gate only orders requests that meet in it. Its in-memory adapter
// (adapters/in_memory_idempotency_gate, the embedded default) is per instance: a duplicate that
// lands on another instance is not held there. The Redis adapter
// (adapters/redis/redis_idempotency_gate, chosen with redis.url) is shared by every instance:
// the duplicate waits for the first wherever it runs. Either way the answer is right, because the
// record is claimed in the effect's transaction (exactly one request claims it) and
// CheckoutService answers a claimed key from the record, waiting (bounded) while its purchase is
// in flight: so an adapter that cannot reach its shared state may answer kFirst (Redis down).
//
// Convention: Enter and Wait are awaitable; Leave is a notification that never fails the caller
// (a duplicate whose wake-up is lost waits out its bound, then reads the record). Thread-safe.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace rocketmart::checkout {

class IdempotencyGate {
 public:
  enum class Role { kFirst, kDuplicate, kMismatch };
  struct Ticket {
    Role role = Role::kFirst;
    std::shared_ptr<void> entry;  // the adapter's; null for kMismatch
  };

  virtual ~IdempotencyGate() = default;
  // kFirst: do the work, then Leave. kDuplicate: Wait, then read the record. kMismatch: the key is
  // in flight with another request.
  virtual boost::asio::awaitable<Ticket> Enter(std::int64_t member_id, const std::string& key,
                                               const std::string& request_hash) = 0;
  // Whether a request with the member's key is in the gate now (on every instance the gate
  // sees). A gate that cannot tell answers true.
  virtual boost::asio::awaitable<bool> Held(std::int64_t member_id, const std::string& key) = 0;
  // The first request finished (whatever its outcome): wake its duplicates.
  virtual void Leave(std::int64_t member_id, const std::string& key, const Ticket& ticket) = 0;
  // Waits until the first request of `ticket` left, or `timeout` passed. True when it left.
  virtual boost::asio::awaitable<bool> Wait(const Ticket& ticket,
                                            std::chrono::milliseconds timeout) = 0;
};

}  // namespace rocketmart::checkout
