// A bounded pool of PostgreSQL connections shared by every thread of a process.
//
// Acquire() hands out an idle connection, opens a new one while fewer than `size` are open, or
// waits (without blocking the thread) for one to be returned. The wait is bounded twice: at most
// `max_waiters` may wait (the next caller gets kOverloaded at once) and each waits at most
// `acquire_timeout` (then kOverloaded): callers answer 503 instead of hanging.
//
// A connection that broke (lost server, client-side timeout, returned inside a transaction) is
// closed on check-in and its place given to the next caller, who connects afresh; an idle one is
// checked (without blocking) on check-out, so after a server restart the pool reconnects without
// failing a request. New connections are refused when the server does not make commits durable
// (CheckDurable: fsync or synchronous_commit off), unless the settings allow it.
//
// The pool must outlive its leases. Thread-safe.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

#include "core/result.hpp"
#include "infra/postgres/connection.hpp"

namespace rocketmart::postgres {

struct PoolSettings {
  ConnectOptions connect;
  std::size_t size = 8;
  std::size_t max_waiters = 1024;
  std::chrono::milliseconds acquire_timeout{1000};
  // Battery H4: refuse a server whose commits are not durable. Off only in tests of the check.
  bool refuse_unsafe_settings = true;
};

class Pool;

// A checked-out connection; returns it to the pool when destroyed.
class Lease {
 public:
  Lease() = default;
  Lease(Pool* pool, std::unique_ptr<Connection> connection)
      : pool_(pool), connection_(std::move(connection)) {}
  Lease(Lease&& other) noexcept = default;
  Lease& operator=(Lease&& other) noexcept;
  ~Lease();
  Connection& operator*() { return *connection_; }
  Connection* operator->() { return connection_.get(); }

 private:
  void Return();
  Pool* pool_ = nullptr;
  std::unique_ptr<Connection> connection_;
};

class Pool {
 public:
  explicit Pool(PoolSettings settings);
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  boost::asio::awaitable<Result<Lease>> Acquire();

  struct Stats {
    std::size_t open = 0;     // connections open or being opened
    std::size_t idle = 0;     // of which idle in the pool
    std::size_t waiting = 0;  // callers waiting for one
  };
  Stats stats() const;
  const PoolSettings& settings() const { return settings_; }

 private:
  friend class Lease;
  struct Waiter;
  void Return(std::unique_ptr<Connection> connection);
  // Under mu_: gives `connection` (or, when null, the right to open one) to the first waiter.
  bool HandToWaiter(std::unique_ptr<Connection>& connection);
  boost::asio::awaitable<Result<std::unique_ptr<Connection>>> Open();

  const PoolSettings settings_;
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_;
  std::deque<std::shared_ptr<Waiter>> waiters_;
  std::size_t open_ = 0;
};

}  // namespace rocketmart::postgres
