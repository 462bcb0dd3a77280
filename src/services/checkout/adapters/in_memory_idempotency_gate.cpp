#include "services/checkout/adapters/in_memory_idempotency_gate.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace rocketmart::checkout {

boost::asio::awaitable<IdempotencyGate::Ticket> InMemoryIdempotencyGate::Enter(
    std::int64_t member_id, const std::string& key, const std::string& request_hash) {
  Ticket ticket;
  {
    std::lock_guard lock(mutex_);
    auto [it, inserted] = entries_.try_emplace(MapKey(member_id, key));
    if (inserted) {
      it->second = std::make_shared<Entry>();
      it->second->request_hash = request_hash;
      ticket = {Role::kFirst, it->second};
    } else if (it->second->request_hash != request_hash) {
      ticket = {Role::kMismatch, nullptr};
    } else {
      ticket = {Role::kDuplicate, it->second};
    }
  }
  co_return ticket;
}

boost::asio::awaitable<bool> InMemoryIdempotencyGate::Held(std::int64_t member_id,
                                                           const std::string& key) {
  const std::string map_key = MapKey(member_id, key);
  std::lock_guard lock(mutex_);
  co_return entries_.contains(map_key);
}

void InMemoryIdempotencyGate::Leave(std::int64_t member_id, const std::string& key,
                                    const Ticket& ticket) {
  auto entry = std::static_pointer_cast<Entry>(ticket.entry);
  if (!entry) return;
  {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(MapKey(member_id, key));
    if (it != entries_.end() && it->second == entry) entries_.erase(it);
  }
  std::lock_guard lock(entry->mutex);
  entry->done = true;
  for (auto& timer : entry->waiters) {
    boost::asio::post(timer->get_executor(), [timer] { timer->cancel(); });
  }
  entry->waiters.clear();
}

boost::asio::awaitable<bool> InMemoryIdempotencyGate::Wait(const Ticket& ticket,
                                                           std::chrono::milliseconds timeout) {
  auto entry = std::static_pointer_cast<Entry>(ticket.entry);
  if (!entry) co_return false;
  auto executor = co_await boost::asio::this_coro::executor;
  auto timer = std::make_shared<boost::asio::steady_timer>(executor, timeout);
  {
    std::lock_guard lock(entry->mutex);
    if (entry->done) co_return true;
    entry->waiters.push_back(timer);
  }
  co_await timer->async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  std::lock_guard lock(entry->mutex);
  // A waiter that timed out leaves the list: Leave must not post to its executor, which may be
  // gone by then.
  std::erase(entry->waiters, timer);
  co_return entry->done;
}

}  // namespace rocketmart::checkout
