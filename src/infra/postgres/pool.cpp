#include "infra/postgres/pool.hpp"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace rocketmart::postgres {

namespace asio = boost::asio;

// A caller waiting for a connection, on its own executor. The pool fills `connection` (or grants
// `may_open`) under its mutex and cancels the timer on the waiter's executor; the waiter reads
// both under the mutex when it wakes, so a grant racing with the timeout is never lost.
struct Pool::Waiter {
  explicit Waiter(const asio::any_io_executor& ex) : executor(ex), timer(ex) {}
  asio::any_io_executor executor;
  asio::steady_timer timer;
  bool granted = false;
  std::unique_ptr<Connection> connection;  // null with granted: open one
};

Lease& Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    Return();
    pool_ = std::exchange(other.pool_, nullptr);
    connection_ = std::move(other.connection_);
  }
  return *this;
}

Lease::~Lease() {
  Return();
}

void Lease::Return() {
  if (pool_ != nullptr && connection_) pool_->Return(std::move(connection_));
  pool_ = nullptr;
}

Pool::Pool(PoolSettings settings) : settings_(std::move(settings)) {}

Pool::~Pool() {
  std::lock_guard lock(mu_);
  idle_.clear();
}

Pool::Stats Pool::stats() const {
  std::lock_guard lock(mu_);
  return Stats{open_, idle_.size(), waiters_.size()};
}

bool Pool::HandToWaiter(std::unique_ptr<Connection>& connection) {
  if (waiters_.empty()) return false;
  auto waiter = std::move(waiters_.front());
  waiters_.pop_front();
  waiter->granted = true;
  waiter->connection = std::move(connection);
  asio::post(waiter->executor, [waiter] { waiter->timer.cancel(); });
  return true;
}

void Pool::Return(std::unique_ptr<Connection> connection) {
  connection->Detach();
  std::unique_ptr<Connection> closing;
  {
    std::lock_guard lock(mu_);
    if (connection->broken()) {
      closing = std::move(connection);  // closed outside the lock; its place is free again
      std::unique_ptr<Connection> none;
      if (!HandToWaiter(none)) --open_;
    } else if (!HandToWaiter(connection)) {
      idle_.push_back(std::move(connection));
    }
  }
}

asio::awaitable<Result<std::unique_ptr<Connection>>> Pool::Open() {
  auto opened = co_await Connection::Connect(settings_.connect);
  if (opened.ok() && settings_.refuse_unsafe_settings) {
    auto durable = co_await CheckDurable(**opened);
    if (!durable.ok()) co_return std::move(durable).error();
  }
  co_return opened;
}

asio::awaitable<Result<Lease>> Pool::Acquire() {
  std::unique_ptr<Connection> connection;
  std::shared_ptr<Waiter> waiter;
  bool may_open = false;
  std::vector<std::unique_ptr<Connection>> dead;
  auto executor = co_await asio::this_coro::executor;
  {
    std::lock_guard lock(mu_);
    while (!idle_.empty() && !connection) {
      auto candidate = std::move(idle_.back());
      idle_.pop_back();
      if (candidate->LooksAlive()) {
        connection = std::move(candidate);
      } else {
        dead.push_back(std::move(candidate));  // its place is reused below
        may_open = true;
        break;
      }
    }
    if (!connection && !may_open) {
      if (open_ < settings_.size) {
        ++open_;
        may_open = true;
      } else if (waiters_.size() >= settings_.max_waiters) {
        co_return MakeError(Errc::kOverloaded, "the service is busy, retry shortly");
      } else {
        waiter = std::make_shared<Waiter>(executor);
        waiters_.push_back(waiter);
      }
    }
  }
  dead.clear();
  if (waiter) {
    waiter->timer.expires_after(settings_.acquire_timeout);
    boost::system::error_code ec;
    co_await waiter->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    std::lock_guard lock(mu_);
    if (!waiter->granted) {
      waiters_.erase(std::find(waiters_.begin(), waiters_.end(), waiter));
      co_return MakeError(Errc::kOverloaded, "no database connection was free in time");
    }
    connection = std::move(waiter->connection);
    may_open = !connection;
  }
  if (may_open) {
    auto opened = co_await Open();
    if (!opened.ok()) {
      std::lock_guard lock(mu_);
      std::unique_ptr<Connection> none;
      if (!HandToWaiter(none)) --open_;
      co_return std::move(opened).error();
    }
    connection = std::move(*opened);
  }
  co_return Lease(this, std::move(connection));
}

}  // namespace rocketmart::postgres
