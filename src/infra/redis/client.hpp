// The Redis client a service uses: one pipelined connection per event loop
// (docs/adr/0040-redis-client.md).
//
// Give it the executors of the io_contexts its callers run on (the service's per-core loops; each
// run by one thread). A command awaited on one of them goes over that loop's own connection: no
// thread hop, no lock, and every command the loop's coroutines issue in one turn leaves in one
// write. A command awaited anywhere else (a test's private io_context, a bus thread through
// CommandSync) takes the connections in turn and completes on its own executor.
//
// Scripts run by EVALSHA with the SHA-1 computed here; a NOSCRIPT answer (a restarted or flushed
// server) sends the script with EVAL, which also caches it, and the answer of that EVAL is the
// answer. CheckServer() is the start-up check: it refuses a server whose maxmemory-policy is not
// noeviction (an evicting server could drop a counter, a deny-list entry or a stream entry we
// rely on) with an error that says so.
//
// Thread-safe. Destroy it (or Close()) before its io_contexts stop running.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "infra/redis/connection.hpp"
#include "infra/redis/reply.hpp"

namespace rocketmart::redis {

// A Lua script and its SHA-1 (hex), computed once.
class Script {
 public:
  explicit Script(std::string source);
  const std::string& source() const { return source_; }
  const std::string& sha1() const { return sha1_; }

 private:
  std::string source_;
  std::string sha1_;
};

class Client {
 public:
  using Executor = boost::asio::io_context::executor_type;

  Client(std::vector<Executor> executors, Endpoint endpoint, ClientOptions options = {},
         std::string name = "client");
  // One connection per loop of `loops` (a server's worker loops: a command awaited there makes no
  // thread hop) and one on `others` for every other caller (maintenance threads, a test). The
  // loops' connections are closed by CloseOnThisThread (each on its loop, as the loop drains) and
  // let go by ReleaseLoops (after the loops stopped, before they are destroyed); `others` then
  // serves everyone.
  Client(std::vector<Executor> loops, Executor others, Endpoint endpoint,
         ClientOptions options = {}, std::string name = "client");
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  boost::asio::awaitable<ReplyResult> Command(std::vector<std::string> args);
  // EVALSHA script numkeys keys... args..., EVAL after NOSCRIPT.
  boost::asio::awaitable<ReplyResult> Eval(const Script& script, std::vector<std::string> keys,
                                           std::vector<std::string> args);
  // Blocks the calling thread, which must run none of the client's loops.
  ReplyResult CommandSync(std::vector<std::string> args);
  ReplyResult EvalSync(const Script& script, std::vector<std::string> keys,
                       std::vector<std::string> args);

  // The start-up check: Ok for a reachable server whose maxmemory-policy is noeviction.
  boost::asio::awaitable<Status> CheckServer();
  Status CheckServerSync();

  // Fails what is in flight and stops reconnecting. Idempotent.
  void Close();
  // On one of `loops`: closes that loop's connection (later commands from it fail fast).
  void CloseOnThisThread();
  // Once `loops` stopped running, before they are destroyed: the client forgets their
  // connections (what a stopped loop still holds goes with it) and sends everything over the
  // `others` connection. Idempotent.
  void ReleaseLoops();

  const Endpoint& endpoint() const { return endpoint_; }
  const ClientOptions& options() const { return options_; }
  // The connection a command from the calling thread would use.
  Connection& ConnectionForThisThread();

 private:
  Endpoint endpoint_;
  ClientOptions options_;
  std::vector<std::shared_ptr<Connection>> connections_;
  std::atomic<std::size_t> next_{0};
  // The per-loop form: loops_[i]'s connection is loop_connections_[i]; `others_` serves the rest.
  std::vector<Executor> loops_;
  std::vector<std::shared_ptr<Connection>> loop_connections_;
  std::shared_ptr<Connection> others_;
  std::atomic<bool> loops_released_{false};
};

// One io_context run by one named thread, for code that has no loop of its own (an event bus, a
// test). Stops and joins in the destructor.
class IoThread {
 public:
  explicit IoThread(std::string name);
  ~IoThread();
  IoThread(const IoThread&) = delete;
  IoThread& operator=(const IoThread&) = delete;
  boost::asio::io_context::executor_type executor() { return ioc_.get_executor(); }
  boost::asio::io_context& context() { return ioc_; }

 private:
  boost::asio::io_context ioc_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
};

}  // namespace rocketmart::redis
