// One Redis connection (hiredis's async context) on one Asio event loop, reconnecting by itself.
//
// The hiredis context is driven by the io_context the connection is created on (its socket is
// watched with posix::stream_descriptor::async_wait; commands issued in one turn of the loop leave
// in one write: pipelining). That io_context must be run by exactly one thread: every hiredis call
// happens on it, so no lock is needed. Command() may be awaited from any executor: it hops to the
// connection's loop (no hop when the caller already runs there) and completes on the caller's.
//
// Every command has a deadline (ClientOptions::command_timeout, 1 s by default; a longer one may be
// given for a blocking command on a connection of its own). A command whose deadline passes
// answers Errc::kTimeout and the connection is reset: Redis answers in order, so everything behind
// a stuck command is stuck too, and a half-open TCP connection shows only this way. When the
// connection is lost, the commands in flight answer Errc::kUnavailable, and a new connection is
// attempted at once, then with a doubling backoff (reconnect_initial .. reconnect_max); while it
// backs off, commands fail fast with Errc::kUnavailable instead of waiting. A command sent while
// connecting waits for the connection (within its deadline). A transport error says nothing about
// whether the command ran.
//
// Subscriber mode (Subscribe before Start): the connection issues SUBSCRIBE after every (re)connect
// and calls `on_subscribed` once the server confirmed it (the moment to reload what a message
// could have been missed for), and `on_message` for each message; both on the connection's loop.
// Such a connection takes no other command.
//
// Lifetime: create with Create() (shared: handlers keep it alive), Start(), and Close() before its
// io_context stops; Close() may be called from any thread and is idempotent.
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "infra/redis/reply.hpp"

struct redisAsyncContext;

namespace rocketmart::redis {

struct ClientOptions {
  Millis command_timeout{1000};  // issue 14: at most 1 s
  Millis connect_timeout{1000};
  Millis reconnect_initial{50};
  Millis reconnect_max{2000};
  std::size_t connections = 0;  // Client only: 0 = one per executor it is given
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  using Executor = boost::asio::io_context::executor_type;

  static std::shared_ptr<Connection> Create(Executor executor, Endpoint endpoint,
                                            ClientOptions options, std::string name);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Before Start(): makes this a subscriber connection for `channel`.
  void Subscribe(std::string channel, std::function<void(std::string)> on_message,
                 std::function<void()> on_subscribed);
  // Starts connecting (from any thread).
  void Start();
  // Fails what is in flight with kUnavailable and never reconnects. Any thread; idempotent.
  void Close();

  // One command, args[0] being its name. `timeout` overrides the options' command timeout.
  template <class Token = boost::asio::use_awaitable_t<>>
  auto AsyncCommand(std::vector<std::string> args, std::optional<Millis> timeout = {},
                    Token&& token = {}) {
    return boost::asio::async_initiate<Token, void(ReplyResult)>(
        [self = shared_from_this()](auto handler, std::vector<std::string> args,
                                    std::optional<Millis> timeout) {
          self->Submit(MakeCompletion(std::move(handler)), std::move(args), timeout);
        },
        token, std::move(args), timeout);
  }

  Executor executor() const { return executor_; }
  bool connected() const { return connected_.load(std::memory_order_relaxed); }
  // Connections established since Start() (the first one included).
  std::uint64_t connects() const { return connects_.load(std::memory_order_relaxed); }
  const std::string& name() const { return name_; }

  // Completion of one command, type-erased (the handlers are move-only).
  class Completion {
   public:
    virtual ~Completion() = default;
    virtual void Complete(ReplyResult result) = 0;
  };

 private:
  struct Pending;
  class Watcher;

  Connection(Executor executor, Endpoint endpoint, ClientOptions options, std::string name);

  template <class Handler>
  static std::unique_ptr<Completion> MakeCompletion(Handler handler) {
    class Impl final : public Completion {
     public:
      explicit Impl(Handler h)
          : handler_(std::move(h)),
            work_(boost::asio::make_work_guard(boost::asio::get_associated_executor(handler_))) {}
      void Complete(ReplyResult result) override {
        auto ex = boost::asio::get_associated_executor(handler_);
        boost::asio::dispatch(ex, [h = std::move(handler_), r = std::move(result)]() mutable {
          std::move(h)(std::move(r));
        });
        work_.reset();
      }

     private:
      Handler handler_;
      boost::asio::executor_work_guard<boost::asio::associated_executor_t<Handler>> work_;
    };
    return std::make_unique<Impl>(std::move(handler));
  }

  void Submit(std::unique_ptr<Completion> completion, std::vector<std::string> args,
              std::optional<Millis> timeout);
  void Send(std::shared_ptr<Pending> pending, const std::vector<std::string>& args);
  void Finish(const std::shared_ptr<Pending>& pending, ReplyResult result);
  void Drain();  // completes what hiredis callbacks finished, outside hiredis

  void Connect();
  void ScheduleReconnect();
  void Reset(const char* why);
  void ArmDeadline();
  void OnDeadline();
  void IssueSubscribe();

  // hiredis entry points (on the loop), each followed by Drain().
  void HandleRead(Watcher& watcher);
  void HandleWrite(Watcher& watcher);

  static void OnConnect(const redisAsyncContext* ac, int status);
  static void OnDisconnect(const redisAsyncContext* ac, int status);
  static void OnReply(redisAsyncContext* ac, void* reply, void* privdata);
  static void OnSetupReply(redisAsyncContext* ac, void* reply, void* privdata);
  static void OnSubscriptionReply(redisAsyncContext* ac, void* reply, void* privdata);

  enum class State { kIdle, kConnecting, kConnected, kBackingOff, kClosed };

  const Executor executor_;
  const Endpoint endpoint_;
  const ClientOptions options_;
  const std::string name_;

  // Loop-only state.
  State state_ = State::kIdle;
  redisAsyncContext* ac_ = nullptr;
  std::shared_ptr<Watcher> watcher_;
  std::deque<std::shared_ptr<Pending>> inflight_;  // sent, in order, for their deadlines
  std::vector<std::pair<std::shared_ptr<Pending>, ReplyResult>> ready_;
  int in_hiredis_ = 0;
  boost::asio::steady_timer deadline_timer_;
  std::optional<std::chrono::steady_clock::time_point> deadline_armed_;
  boost::asio::steady_timer reconnect_timer_;
  boost::asio::steady_timer connect_timer_;
  Millis backoff_{0};
  std::string subscribe_channel_;
  std::function<void(std::string)> on_message_;
  std::function<void()> on_subscribed_;

  std::atomic<bool> connected_{false};
  std::atomic<std::uint64_t> connects_{0};
};

}  // namespace rocketmart::redis
