// The process's Redis (issue 14, docs/redis.md): with `redis.url` set, one client on one I/O
// thread (a service run apart also gives it its server's loops: ServeLoops), shared by every
// adapter that can share a connection: checkout's admission, members'
// throttles, the gateway's deny-list (its writes and reloads; its pub/sub subscription is a
// connection of its own on the same thread, since a subscribed connection takes no other command).
// The Redis Streams bus keeps its own thread and connections: each of its consumers blocks in
// XREADGROUP on a connection of its own, which would stall every command queued behind it.
//
// Open() is the start-up check: the server answers within the client's timeouts and its
// maxmemory-policy is noeviction; otherwise it throws StartRefused (exit 2) with one line saying
// why. Modules take a `const SharedRedis*` (nullptr: no Redis, the in-memory adapters).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "infra/config/config.hpp"
#include "infra/module/module.hpp"
#include "infra/redis/client.hpp"

namespace rocketmart::module {

// A start refused for what the configuration points at (an unusable Redis): the process exits 2,
// as for a configuration error, with this one line.
class StartRefused : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class SharedRedis {
 public:
  // Connects to redis.url (with redis.password) and checks the server; throws StartRefused.
  static std::unique_ptr<SharedRedis> Open(const config::RedisConfig& config);
  ~SharedRedis();

  redis::Client& client() { return *client_; }
  // Before any adapter takes client(): commands awaited on `loops` (a server's workers) go over a
  // connection of that loop, no thread hop; every other caller keeps the I/O thread's. Then
  // LoopDrained on each loop as it drains (the server's OnLoopDrained), and ReleaseLoops once the
  // loops stopped and before they are destroyed.
  void ServeLoops(std::vector<redis::Client::Executor> loops);
  void LoopDrained() { client_->CloseOnThisThread(); }
  void ReleaseLoops() { client_->ReleaseLoops(); }
  // The client's loop: for a connection of an adapter's own (a subscription).
  redis::Client::Executor executor() { return io_.executor(); }
  const redis::Endpoint& endpoint() const { return endpoint_; }
  // Before every key, channel and stream (redis.key_prefix).
  const std::string& prefix() const { return prefix_; }

  // GET /health: whether the server answers a PING within `timeout` (at once "no" while the
  // client is reconnecting). Never longer than `timeout`.
  // Redis as /health lists it: "redis", writable when a PING is answered within 500 ms (at
  // once "unreachable" while the client reconnects), "unreachable" otherwise.
  boost::asio::awaitable<StoreHealth> Health();
  boost::asio::awaitable<bool> Ping(std::chrono::milliseconds timeout);

 private:
  SharedRedis(redis::Endpoint endpoint, std::string prefix);

  redis::Endpoint endpoint_;
  std::string prefix_;
  redis::IoThread io_{"redis"};
  std::unique_ptr<redis::Client> client_;
};

}  // namespace rocketmart::module
