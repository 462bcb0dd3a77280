// Group commit for checkout's PostgreSQL stores (internal to the adapters): callers queue a
// request and wait; up to `max_flushers` of them at a time act as flushers, each taking what is
// queued (up to `max_batch` requests) and handing it to `run`, which sends the batch as one
// transaction and answers every request of it with Finish. While one batch commits, the next
// fills. PlaceHold and CompletePayment each have one (postgres_hold_store.cpp).
#pragma once

#include <algorithm>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "core/result.hpp"

namespace rocketmart::checkout::postgres_internal {

// A queued request and its caller, woken on the caller's executor (one thread per io_context,
// docs/adr/0003) when the batch that carried it has an answer.
template <class Request, class Answer>
struct Queued {
  Queued(Request r, const boost::asio::any_io_executor& ex)
      : request(std::move(r)), executor(ex), timer(ex) {}
  Request request;
  boost::asio::any_io_executor executor;
  boost::asio::steady_timer timer;
  bool done = false;  // under the queue's mutex
  std::optional<Result<Answer>> result;
};

template <class Request, class Answer>
class GroupCommit {
 public:
  using Pending = Queued<Request, Answer>;
  using Batch = std::vector<std::shared_ptr<Pending>>;
  // Sends one batch and Finishes each of its requests (a plain function returning the awaitable
  // of a member coroutine: no coroutine lambda, docs/adr/0003).
  using Runner = std::function<boost::asio::awaitable<void>(Batch)>;

  struct Stats {
    std::uint64_t items = 0;    // requests committed
    std::uint64_t batches = 0;  // transactions that committed them
  };

  GroupCommit(std::size_t max_batch, std::size_t max_flushers, Runner run)
      : max_batch_(std::max<std::size_t>(max_batch, 1)),
        max_flushers_(std::max<std::size_t>(max_flushers, 1)),
        run_(std::move(run)) {}

  boost::asio::awaitable<Result<Answer>> Submit(Request request) {
    auto executor = co_await boost::asio::this_coro::executor;
    auto pending = std::make_shared<Pending>(std::move(request), executor);
    pending->timer.expires_at(boost::asio::steady_timer::time_point::max());
    bool flush = false;
    {
      std::lock_guard lock(mu_);
      queue_.push_back(pending);
      if (flushers_ < max_flushers_) {
        ++flushers_;
        flush = true;
      }
    }
    // This caller sends batches until the queue is empty; otherwise a running flusher takes it.
    if (flush) co_await Drain();
    while (true) {
      {
        std::lock_guard lock(mu_);
        if (pending->done) break;
      }
      boost::system::error_code ec;
      co_await pending->timer.async_wait(
          boost::asio::redirect_error(boost::asio::use_awaitable, ec));
    }
    co_return std::move(*pending->result);
  }

  // Answers a queued request and hands the flusher's reference to the caller's executor (the
  // caller's timer must die there, not on the flusher's thread after the caller's loop is gone).
  void Finish(std::shared_ptr<Pending>&& pending, Result<Answer> result) {
    std::shared_ptr<Pending> owned = std::move(pending);
    const boost::asio::any_io_executor executor = owned->executor;
    std::lock_guard lock(mu_);
    owned->result.emplace(std::move(result));
    owned->done = true;
    // Expiring the timer (rather than cancelling it) also wakes a caller that has not begun to
    // wait.
    boost::asio::post(executor, [owned = std::move(owned)] {
      owned->timer.expires_at(boost::asio::steady_timer::time_point::min());
    });
  }

  // A batch of `items` requests committed.
  void Committed(std::size_t items) {
    std::lock_guard lock(mu_);
    stats_.items += items;
    ++stats_.batches;
  }

  Stats stats() const {
    std::lock_guard lock(mu_);
    return stats_;
  }

 private:
  boost::asio::awaitable<void> Drain() {
    while (true) {
      Batch batch;
      {
        std::lock_guard lock(mu_);
        if (queue_.empty()) {
          --flushers_;
          break;
        }
        const std::size_t n = std::min(queue_.size(), max_batch_);
        batch.assign(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
        queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
      }
      co_await run_(std::move(batch));
    }
  }

  const std::size_t max_batch_;
  const std::size_t max_flushers_;
  const Runner run_;
  mutable std::mutex mu_;
  std::deque<std::shared_ptr<Pending>> queue_;
  std::size_t flushers_ = 0;
  Stats stats_;
};

}  // namespace rocketmart::checkout::postgres_internal
