// Port: the durable records of Idempotency-Keys — which request a member's key was first used for
// and the hold it produced — from which every replayed answer is built. Implemented by
// adapters/sqlite_checkout_stores (SqliteIdempotencyStore).
//
// A record is written (claimed) only by the transaction of the request's first effect, which is a
// HoldStore operation (PlaceHold, BeginPayment with an IdempotencyTag): of several requests with
// one key, on any number of instances, exactly one claims it. This port reads the records and
// forgets them after their retention; Find always answers from the records themselves, so every
// instance over one store sees the same answer (no instance keeps its own list of keys).
//
// Convention: Find and Forget are awaitable and answer a Result (a read may complete inline);
// LoadKeys is a start-up read (synchronous, called once by CheckoutService::Load).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"

namespace rocketmart::checkout {

// What a request asked, under which key: stored with the first effect of the request, so a retry
// finds it even after a crash and is answered from the durable outcome.
struct IdempotencyTag {
  std::string key;
  std::string request_hash;
  std::string operation;  // "purchase" | "hold" | "pay"
};

struct IdempotencyEntry {
  std::string request_hash;
  std::string operation;
  std::int64_t hold_id = 0;
};

struct IdempotencyKeyRef {
  std::int64_t member_id = 0;
  std::string key;
};

class IdempotencyStore {
 public:
  virtual ~IdempotencyStore() = default;
  // Start-up: calls `visit(member_id, key)` for every record.
  virtual void LoadKeys(const std::function<void(std::int64_t, std::string_view)>& visit) = 0;
  // The record of the member's key, if any (whoever claimed it, on whichever instance).
  virtual boost::asio::awaitable<Result<std::optional<IdempotencyEntry>>> Find(
      std::int64_t member_id, std::string key) = 0;
  // Forgets up to `limit` records created before `created_before` whose hold is settled (not
  // ACTIVE or PAYING): a retry of an open purchase is always recognised. Returns the keys
  // forgotten, oldest first.
  virtual boost::asio::awaitable<Result<std::vector<IdempotencyKeyRef>>> Forget(
      TimePoint created_before, std::size_t limit) = 0;
};

}  // namespace rocketmart::checkout
