// IdempotencyGate in this instance's memory (embedded: the only instance). One entry per member and
// key in flight; duplicates wait on a timer that Leave cancels, posted to each waiter's own
// executor, so waiters may live on any io_context.
#pragma once

#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "services/checkout/ports/idempotency_gate.hpp"

namespace rocketmart::checkout {

class InMemoryIdempotencyGate final : public IdempotencyGate {
 public:
  boost::asio::awaitable<Ticket> Enter(std::int64_t member_id, const std::string& key,
                                       const std::string& request_hash) override;
  boost::asio::awaitable<bool> Held(std::int64_t member_id, const std::string& key) override;
  void Leave(std::int64_t member_id, const std::string& key, const Ticket& ticket) override;
  boost::asio::awaitable<bool> Wait(const Ticket& ticket,
                                    std::chrono::milliseconds timeout) override;

 private:
  struct Entry {
    std::string request_hash;
    std::mutex mutex;
    bool done = false;
    std::vector<std::shared_ptr<boost::asio::steady_timer>> waiters;
  };
  static std::string MapKey(std::int64_t member_id, const std::string& key) {
    return std::to_string(member_id) + '\n' + key;
  }
  std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<Entry>> entries_;
};

}  // namespace rocketmart::checkout
