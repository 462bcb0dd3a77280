// Requests in flight under an Idempotency-Key, per member. The first request with a key does the
// work; identical duplicates arriving meanwhile wait (bounded) for it and are then answered from
// the durable outcome, so N concurrent retries produce one effect and N identical answers. A
// duplicate still unanswered when its wait runs out gets REQUEST_IN_FLIGHT (409); the same key with
// a different request gets IDEMPOTENCY_KEY_REUSED (422).
//
// Thread-safe. Waiters may live on any io_context: they are woken by posting to their executor.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace rocketmart::checkout {

class IdempotencyGate {
 public:
  struct Entry {
    std::string request_hash;
    std::mutex mutex;
    bool done = false;
    std::vector<std::shared_ptr<boost::asio::steady_timer>> waiters;
  };
  enum class Role { kFirst, kDuplicate, kMismatch };
  struct Ticket {
    Role role;
    std::shared_ptr<Entry> entry;
  };

  Ticket Enter(std::int64_t member_id, const std::string& key, const std::string& request_hash);
  // The first request finished (whatever its outcome): wake the duplicates.
  void Leave(std::int64_t member_id, const std::string& key, const std::shared_ptr<Entry>& entry);
  // Waits until the entry is done or `timeout` passes. True when done.
  static boost::asio::awaitable<bool> Wait(std::shared_ptr<Entry> entry,
                                           std::chrono::milliseconds timeout);

 private:
  static std::string MapKey(std::int64_t member_id, const std::string& key) {
    return std::to_string(member_id) + '\n' + key;
  }
  std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<Entry>> entries_;
};

}  // namespace rocketmart::checkout
