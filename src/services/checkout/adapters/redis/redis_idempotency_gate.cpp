#include "services/checkout/adapters/redis/redis_idempotency_gate.hpp"

#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdio>
#include <future>
#include <mutex>
#include <random>
#include <unordered_map>
#include <vector>

#include "services/checkout/adapters/redis/redis_key_state.hpp"

namespace rocketmart::checkout {
namespace {

namespace asio = boost::asio;

// KEYS: the claim. ARGV: token, request hash, ttl ms.
// Answers {0, token} claimed, {1, the first's token} a duplicate (w set), {2, ''} a mismatch.
const redis::Script kEnter(R"lua(
local cur = redis.call('HMGET', KEYS[1], 't', 'h')
if not cur[1] then
  redis.call('HSET', KEYS[1], 't', ARGV[1], 'h', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {0, ARGV[1]}
end
if cur[2] ~= ARGV[2] then return {2, ''} end
redis.call('HSET', KEYS[1], 'w', '1')
return {1, cur[1]}
)lua");

// KEYS: the claim. ARGV: token, channel. Deletes the claim only while it holds `token`; publishes
// the token when a duplicate entered (or the claim is gone or another's: rare, and its waiters,
// if any, may be parked on this token).
const redis::Script kLeave(R"lua(
local cur = redis.call('HMGET', KEYS[1], 't', 'w')
if cur[1] == ARGV[1] then
  redis.call('DEL', KEYS[1])
  if not cur[2] then return 1 end
end
redis.call('PUBLISH', ARGV[2], ARGV[1])
return 2
)lua");

// What a ticket holds: where the claim is and whose it is.
struct Claim {
  std::string key;    // the claim's Redis key
  std::string token;  // the first request's
  bool first = false;
  bool claimed = false;  // false: Redis did not answer Enter (kFirst without a claim)
};

// One Wait in progress. Completions of its checks and messages may hold it after Wait returned
// (on another connection's thread, after the waiting loop is gone), so it owns nothing bound to
// that loop: the timer lives in Wait's frame and is reached only while `finished` is false.
struct Waiter {
  std::shared_ptr<Claim> claim;
  asio::any_io_executor executor;       // Wait's; posted to only while !finished
  asio::steady_timer* timer = nullptr;  // in Wait's frame; valid only while !finished
  bool woken = false;                   // guarded by Shared::mutex
  bool finished = false;                // Wait returned (or its frame was destroyed)
};

std::string Hex(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return std::string(buf, 16);
}

}  // namespace

struct RedisIdempotencyGate::Shared : std::enable_shared_from_this<Shared> {
  Shared(redis::Client& c, metrics::Registry& metrics, RedisIdempotencyGateOptions o)
      : client(c),
        options(std::move(o)),
        base(options.prefix + "idem:"),
        channel(base + "left"),
        ttl(std::to_string(options.claim_ttl.count())),
        unavailable(metrics.GetCounter(
            "checkout_idempotency_gate_unavailable_total",
            "Requests with an Idempotency-Key let through the in-flight gate because Redis could "
            "not answer (the durable record decides)")),
        leaves_lost(metrics.GetCounter("checkout_idempotency_gate_leaves_lost_total",
                                       "In-flight gate releases given up after their retries (the "
                                       "claim expires by its TTL)")) {
    std::random_device rd;
    rng.seed(
        (std::uint64_t{rd()} << 32) ^ rd() ^
        static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()));
  }

  std::string Token() {
    std::lock_guard lock(mutex);
    return Hex(rng()) + Hex(rng());
  }

  // Wakes one waiter (from any thread): its timer is cancelled on its own executor, unless Wait
  // finished meanwhile.
  void WakeLocked(const std::shared_ptr<Waiter>& w) {
    if (w->woken || w->finished) return;
    w->woken = true;
    asio::post(w->executor, [self = shared_from_this(), w] {
      std::lock_guard lock(self->mutex);
      if (!w->finished) w->timer->cancel();
    });
  }
  void WakeToken(const std::string& token) {
    std::lock_guard lock(mutex);
    auto [from, to] = waiters.equal_range(token);
    for (auto it = from; it != to; ++it) WakeLocked(it->second);
  }

  // Looks at the waiter's claim; wakes it when the claim is gone or another's. A transport failure
  // or an error reply wakes nobody (the next look, the message or the timeout will).
  void Check(const std::shared_ptr<Waiter>& waiter) {
    redis::Connection& conn = client.ConnectionForThisThread();
    std::vector<std::string> command = {"HGET", waiter->claim->key, "t"};
    conn.AsyncCommand(std::move(command), std::nullopt,
                      [self = shared_from_this(), waiter](redis::ReplyResult reply) {
                        if (!reply.ok() || reply->is_error()) return;
                        if (!reply->is_nil() && reply->str == waiter->claim->token) return;
                        std::lock_guard lock(self->mutex);
                        self->WakeLocked(waiter);
                      });
  }
  // After a (re)subscription: a message sent meanwhile may be lost, so every waiter looks again.
  void CheckAll() {
    std::vector<std::shared_ptr<Waiter>> all;
    {
      std::lock_guard lock(mutex);
      for (auto& [token, w] : waiters) all.push_back(w);
    }
    for (auto& w : all) Check(w);
  }

  // Sent on `conn` itself (not through the client, which may be gone before a retry): EVALSHA,
  // EVAL after NOSCRIPT, retried on a transport failure (the script is idempotent).
  static asio::awaitable<void> SendLeave(std::shared_ptr<Shared> self,
                                         std::shared_ptr<redis::Connection> conn,
                                         std::shared_ptr<Claim> claim) {
    for (int sends = 1;; ++sends) {
      std::vector<std::string> command = {"EVALSHA",  kLeave.sha1(), "1",
                                          claim->key, claim->token,  self->channel};
      redis::ReplyResult reply = co_await conn->AsyncCommand(std::move(command));
      if (reply.ok() && reply->IsErrorCode("NOSCRIPT")) {
        command = {"EVAL", kLeave.source(), "1", claim->key, claim->token, self->channel};
        reply = co_await conn->AsyncCommand(std::move(command));
      }
      if (reply.ok() || sends >= self->options.leave_attempts) {
        if (!reply.ok() || reply->is_error()) {
          spdlog::warn(
              "checkout: an idempotency gate release was given up ({}); the claim expires in "
              "{} ms",
              reply.ok() ? reply->str : reply.error().message, self->options.claim_ttl.count());
          self->leaves_lost.Add();
        }
        break;
      }
      asio::steady_timer pause(conn->executor(), self->options.leave_retry * (1 << (sends - 1)));
      co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    self->pending.fetch_sub(1, std::memory_order_acq_rel);
  }

  redis::Client& client;
  const RedisIdempotencyGateOptions options;
  const std::string base, channel, ttl;
  std::mutex mutex;  // rng, waiters
  std::mt19937_64 rng;
  std::unordered_multimap<std::string, std::shared_ptr<Waiter>> waiters;  // by the first's token
  std::shared_ptr<redis::Connection> subscriber;
  std::atomic<bool> subscribed{false};
  std::atomic<std::int64_t> pending{0};
  std::atomic<std::int64_t> last_warning{-1};  // steady seconds
  metrics::Counter& unavailable;
  metrics::Counter& leaves_lost;
};

RedisIdempotencyGate::RedisIdempotencyGate(redis::Client& client,
                                           asio::io_context::executor_type executor,
                                           metrics::Registry& metrics,
                                           RedisIdempotencyGateOptions options)
    : shared_(std::make_shared<Shared>(client, metrics, std::move(options))) {
  shared_->subscriber =
      redis::Connection::Create(executor, client.endpoint(), client.options(), "idem-feed");
  std::weak_ptr<Shared> weak = shared_;
  shared_->subscriber->Subscribe(
      shared_->channel,
      [weak](std::string token) {
        if (auto s = weak.lock()) s->WakeToken(token);
      },
      [weak] {
        if (auto s = weak.lock()) {
          s->subscribed.store(true);
          s->CheckAll();
        }
      });
  shared_->subscriber->Start();
}

RedisIdempotencyGate::~RedisIdempotencyGate() {
  auto& subscriber = shared_->subscriber;
  subscriber->Close();
  if (!subscriber->executor().running_in_this_thread()) {
    // The close runs on the loop: wait (bounded: the loop may have stopped) until it passed it.
    std::promise<void> passed;
    auto future = passed.get_future();
    asio::post(subscriber->executor(), [&passed] { passed.set_value(); });
    future.wait_for(std::chrono::seconds(1));
  }
}

bool RedisIdempotencyGate::subscribed() const {
  return shared_->subscribed.load();
}

std::int64_t RedisIdempotencyGate::leaves_pending() const {
  return shared_->pending.load(std::memory_order_acquire);
}

std::uint64_t RedisIdempotencyGate::leaves_lost() const {
  return shared_->leaves_lost.Value();
}

std::uint64_t RedisIdempotencyGate::unavailable() const {
  return shared_->unavailable.Value();
}

asio::awaitable<IdempotencyGate::Ticket> RedisIdempotencyGate::Enter(
    std::int64_t member_id, const std::string& key, const std::string& request_hash) {
  auto claim = std::make_shared<Claim>();
  claim->key = ClaimKey(member_id, key);
  claim->token = shared_->Token();
  std::vector<std::string> keys = {claim->key};
  std::vector<std::string> args = {claim->token, request_hash, shared_->ttl};
  const redis::ReplyResult reply =
      co_await shared_->client.Eval(kEnter, std::move(keys), std::move(args));
  const bool answered = reply.ok() && !reply->is_error() && reply->elements.size() == 2;
  if (!answered) {
    // Let it through: the record claimed in the effect's transaction decides.
    shared_->unavailable.Add();
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::steady_clock::now().time_since_epoch())
                         .count();
    if (shared_->last_warning.exchange(now) != now) {
      spdlog::warn("checkout: the idempotency gate let a request through without redis ({})",
                   reply.ok() ? reply->str : reply.error().message);
    }
    claim->first = true;
    co_return Ticket{Role::kFirst, std::move(claim)};
  }
  switch (reply->elements[0].AsInteger().value_or(-1)) {
    case 0:
      claim->first = claim->claimed = true;
      co_return Ticket{Role::kFirst, std::move(claim)};
    case 1:
      claim->claimed = true;
      claim->token = reply->elements[1].str;
      co_return Ticket{Role::kDuplicate, std::move(claim)};
    default:
      co_return Ticket{Role::kMismatch, nullptr};
  }
}

std::string RedisIdempotencyGate::ClaimKey(std::int64_t member_id, const std::string& key) const {
  return IdempotencyClaimKey(shared_->options.prefix, member_id, key);
}

const redis::Client& RedisIdempotencyGate::client() const {
  return shared_->client;
}

asio::awaitable<bool> RedisIdempotencyGate::Held(std::int64_t member_id, const std::string& key) {
  std::vector<std::string> command = {"EXISTS", ClaimKey(member_id, key)};
  const redis::ReplyResult reply = co_await shared_->client.Command(std::move(command));
  // Unknown: held (the caller then goes through the gate, which decides).
  if (!reply.ok() || reply->is_error()) co_return true;
  co_return reply->integer != 0;
}

void RedisIdempotencyGate::Leave(std::int64_t /*member_id*/, const std::string& /*key*/,
                                 const Ticket& ticket) {
  auto claim = std::static_pointer_cast<Claim>(ticket.entry);
  if (!claim || !claim->first || !claim->claimed) return;
  shared_->pending.fetch_add(1, std::memory_order_acq_rel);
  // Spawned on the client's loop: sent in the order Leave was called relative to later commands
  // from this thread on that connection.
  auto conn = shared_->client.ConnectionForThisThread().shared_from_this();
  const auto executor = conn->executor();
  asio::co_spawn(executor, Shared::SendLeave(shared_, std::move(conn), std::move(claim)),
                 asio::detached);
}

asio::awaitable<bool> RedisIdempotencyGate::Wait(const Ticket& ticket,
                                                 std::chrono::milliseconds timeout) {
  auto claim = std::static_pointer_cast<Claim>(ticket.entry);
  if (!claim) co_return false;
  if (!claim->claimed) co_return true;  // no claim to wait for
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const auto executor = co_await asio::this_coro::executor;
  asio::steady_timer timer(executor);
  auto waiter = std::make_shared<Waiter>();
  waiter->claim = claim;
  waiter->executor = executor;
  waiter->timer = &timer;
  // Unregisters the waiter when Wait returns or its frame is destroyed unfinished (its loop
  // stopped): declared after the timer, so it runs while the timer still exists.
  struct Unregister {
    Shared& shared;
    const std::shared_ptr<Waiter>& waiter;
    ~Unregister() {
      std::lock_guard lock(shared.mutex);
      waiter->finished = true;
      waiter->timer = nullptr;
      waiter->executor = {};
      auto [from, to] = shared.waiters.equal_range(waiter->claim->token);
      for (auto it = from; it != to; ++it) {
        if (it->second == waiter) {
          shared.waiters.erase(it);
          break;
        }
      }
    }
  } unregister{*shared_, waiter};
  {
    std::lock_guard lock(shared_->mutex);
    shared_->waiters.emplace(claim->token, waiter);
  }
  // A Leave published before this waiter was registered reached nobody: look once.
  shared_->Check(waiter);
  auto interval = shared_->options.poll_initial;
  bool left = false;
  for (;;) {
    {
      // Woken before the timer is armed: seen here. Woken after: the cancel is posted to this
      // executor, so it runs once this coroutine is suspended in async_wait.
      std::lock_guard lock(shared_->mutex);
      if (waiter->woken) {
        left = true;
        break;
      }
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) break;
    timer.expires_at(std::min(deadline, now + interval));
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    {
      std::lock_guard lock(shared_->mutex);
      if (waiter->woken) {
        left = true;
        break;
      }
    }
    if (std::chrono::steady_clock::now() >= deadline) break;
    shared_->Check(waiter);  // a claim that expired (a dead instance) publishes nothing
    interval = std::min(interval * 2, shared_->options.poll_max);
  }
  co_return left;
}

}  // namespace rocketmart::checkout
