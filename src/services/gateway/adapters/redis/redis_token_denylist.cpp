#include "services/gateway/adapters/redis/redis_token_denylist.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>
#include <cstdio>
#include <future>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include "infra/async/run.hpp"

namespace rocketmart::gateway {
namespace {

namespace asio = boost::asio;

// KEYS[1] the sorted set; ARGV: kind (t|f), member, id, expires ms, now ms, channel.
const redis::Script kDeny(R"lua(
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[5])
redis.call('ZADD', KEYS[1], 'GT', ARGV[4], ARGV[2] .. '|' .. ARGV[3])
redis.call('PUBLISH', ARGV[6], ARGV[1] .. '|' .. ARGV[2] .. '|' .. ARGV[4] .. '|' .. ARGV[3])
return 1
)lua");

// KEYS[1] the hash; ARGV: member, instant ms, channel. Only ever raises the instant.
const redis::Script kBefore(R"lua(
local cur = redis.call('HGET', KEYS[1], ARGV[1])
local v = ARGV[2]
if cur and tonumber(cur) >= tonumber(v) then v = cur else redis.call('HSET', KEYS[1], ARGV[1], v) end
redis.call('PUBLISH', ARGV[3], 'b|' .. ARGV[1] .. '|' .. v)
return 1
)lua");

std::optional<std::int64_t> Int(std::string_view text) {
  std::int64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

// "<member>|<rest>" split once.
std::optional<std::pair<std::int64_t, std::string_view>> MemberAnd(std::string_view text) {
  const auto bar = text.find('|');
  if (bar == std::string_view::npos) return std::nullopt;
  const auto member = Int(text.substr(0, bar));
  if (!member) return std::nullopt;
  return std::make_pair(*member, text.substr(bar + 1));
}

// Milliseconds on the wire, rounded up: an instant or expiry read back never voids less.
std::string CeilMillis(TimePoint t) {
  return std::to_string(std::chrono::ceil<std::chrono::milliseconds>(t.time_since_epoch()).count());
}

Status Done(const redis::ReplyResult& reply) {
  if (!reply.ok()) return reply.error();
  if (reply->is_error()) return MakeError(Errc::kUnavailable, "redis deny-list: " + reply->str);
  return Ok();
}

std::string RandomHex() {
  std::random_device rd;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%08x%08x", rd(), rd());
  return buf;
}

}  // namespace

// A CatchUp waiting for its marker. The subscription's thread marks it seen and cancels its timer
// on the waiting loop; the timer lives in CatchUp's frame and is reached only while !finished.
struct RedisTokenDenylist::Marker {
  std::mutex mutex;
  asio::any_io_executor executor;
  asio::steady_timer* timer = nullptr;
  bool seen = false;
  bool finished = false;
};

RedisTokenDenylist::RedisTokenDenylist(redis::Client& client,
                                       asio::io_context::executor_type executor, const Clock& clock,
                                       std::string prefix)
    : client_(client),
      executor_(executor),
      clock_(clock),
      prefix_(std::move(prefix)),
      marker_base_(RandomHex()),
      replica_(clock) {}

RedisTokenDenylist::~RedisTokenDenylist() {
  Stop();
}

void RedisTokenDenylist::Start() {
  if (subscriber_) return;
  subscriber_ =
      redis::Connection::Create(executor_, client_.endpoint(), client_.options(), "deny-feed");
  subscriber_->Subscribe(
      prefix_ + "deny:feed", [this](std::string message) { Apply(message); },
      [this] { asio::co_spawn(executor_, Reload(), asio::detached); });
  subscriber_->Start();
}

void RedisTokenDenylist::Stop() {
  if (!subscriber_) return;
  subscriber_->Close();
  // The close and any reload in flight run on the loop: wait until it passed them.
  std::promise<void> passed;
  auto future = passed.get_future();
  asio::post(executor_, [&passed] { passed.set_value(); });
  future.wait_for(std::chrono::seconds(2));
  subscriber_.reset();
}

bool RedisTokenDenylist::WaitLoaded(std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!loaded_.load()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // poll interval
  }
  return true;
}

asio::awaitable<void> RedisTokenDenylist::Reload() {
  // Each reply applied as it comes; messages meanwhile are applied too (idempotent).
  for (const char* set : {"deny:tokens", "deny:families"}) {
    std::vector<std::string> args = {"ZRANGE", prefix_ + set, "0", "-1", "WITHSCORES"};
    redis::ReplyResult reply = co_await client_.Command(std::move(args));
    if (!reply.ok() || reply->is_error()) {
      spdlog::warn("deny-list: reload of {} failed: {}", set,
                   reply.ok() ? reply->str : reply.error().message);
      co_return;  // the next resubscription reloads again
    }
    const bool tokens = std::string_view(set) == "deny:tokens";
    for (std::size_t i = 0; i + 1 < reply->elements.size(); i += 2) {
      const auto entry = MemberAnd(reply->elements[i].str);
      const auto until = Int(reply->elements[i + 1].str);
      if (!entry || !until) continue;
      const TimePoint expires = FromUnixMillis(*until);
      std::string id(entry->second);
      Status st = tokens ? co_await replica_.DenyToken(entry->first, std::move(id), expires)
                         : co_await replica_.DenyFamily(entry->first, std::move(id), expires);
      (void)st;  // the replica never fails
    }
  }
  std::vector<std::string> args = {"HGETALL", prefix_ + "deny:before"};
  redis::ReplyResult reply = co_await client_.Command(std::move(args));
  if (!reply.ok() || reply->is_error()) {
    spdlog::warn("deny-list: reload of deny:before failed: {}",
                 reply.ok() ? reply->str : reply.error().message);
    co_return;
  }
  for (std::size_t i = 0; i + 1 < reply->elements.size(); i += 2) {
    const auto member = Int(reply->elements[i].str);
    const auto at = Int(reply->elements[i + 1].str);
    if (!member || !at) continue;
    Status st = co_await replica_.InvalidateBefore(*member, FromUnixMillis(*at));
    (void)st;
  }
  reloads_.fetch_add(1);
  loaded_.store(true);
}

void RedisTokenDenylist::Apply(const std::string& message) {
  // t|<member>|<expires ms>|<jti>, f|<member>|<expires ms>|<family>, b|<member>|<instant ms>,
  // m|<nonce> (a CatchUp's marker: everything before it was applied above)
  if (message.size() < 2 || message[1] != '|') return;
  if (message[0] == 'm') {
    std::shared_ptr<Marker> marker;
    {
      std::lock_guard lock(markers_mutex_);
      auto it = markers_.find(message.substr(2));
      if (it == markers_.end()) return;  // another instance's, or given up
      marker = it->second;
    }
    std::lock_guard lock(marker->mutex);
    if (marker->finished || marker->seen) return;
    marker->seen = true;
    asio::post(marker->executor, [marker] {
      std::lock_guard lock(marker->mutex);
      if (!marker->finished) marker->timer->cancel();
    });
    return;
  }
  const auto rest = MemberAnd(std::string_view(message).substr(2));
  if (!rest) return;
  const auto [member, tail] = *rest;
  if (message[0] == 'b') {
    if (const auto at = Int(tail)) {
      async::RunToCompletion(replica_.InvalidateBefore(member, FromUnixMillis(*at)));
    }
    return;
  }
  const auto bar = tail.find('|');
  if (bar == std::string_view::npos) return;
  const auto until = Int(tail.substr(0, bar));
  if (!until) return;
  std::string id(tail.substr(bar + 1));
  if (message[0] == 't') {
    async::RunToCompletion(replica_.DenyToken(member, std::move(id), FromUnixMillis(*until)));
  } else if (message[0] == 'f') {
    async::RunToCompletion(replica_.DenyFamily(member, std::move(id), FromUnixMillis(*until)));
  }
}

bool RedisTokenDenylist::IsRevoked(std::int64_t member_id, std::string_view token_id,
                                   TimePoint issued_at) const {
  return replica_.IsRevoked(member_id, token_id, issued_at);
}

asio::awaitable<void> RedisTokenDenylist::CatchUp(std::chrono::milliseconds bound) const {
  if (!loaded_.load()) co_return;  // no replica yet: nothing served, nothing to catch up on
  const std::string nonce =
      marker_base_ + "." + std::to_string(next_marker_.fetch_add(1, std::memory_order_relaxed));
  const auto executor = co_await asio::this_coro::executor;
  asio::steady_timer timer(executor, bound);
  auto marker = std::make_shared<Marker>();
  marker->executor = executor;
  marker->timer = &timer;
  {
    std::lock_guard lock(markers_mutex_);
    markers_.emplace(nonce, marker);
  }
  // However the frame ends (returned, or destroyed with its loop): unregistered before the timer
  // goes, so no wake-up reaches a timer that is gone.
  struct Unregister {
    const RedisTokenDenylist& self;
    const std::string& nonce;
    const std::shared_ptr<Marker>& marker;
    ~Unregister() {
      {
        std::lock_guard lock(self.markers_mutex_);
        self.markers_.erase(nonce);
      }
      std::lock_guard lock(marker->mutex);
      marker->finished = true;
      marker->timer = nullptr;
      marker->executor = {};
    }
  } unregister{*this, nonce, marker};
  std::vector<std::string> publish = {"PUBLISH", prefix_ + "deny:feed", "m|" + nonce};
  const redis::ReplyResult reply = co_await client_.Command(std::move(publish));
  // Published to nobody (our subscription is down): it reloads when it is back. Not published:
  // Redis is down and the propagation bound applies.
  if (!reply.ok() || reply->is_error() || reply->integer == 0) co_return;
  {
    std::lock_guard lock(marker->mutex);
    if (marker->seen) co_return;
  }
  co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
}

asio::awaitable<Status> RedisTokenDenylist::DenyToken(std::int64_t member_id, std::string token_id,
                                                      TimePoint expires_at) {
  std::vector<std::string> keys = {prefix_ + "deny:tokens"};
  std::vector<std::string> args = {"t",
                                   std::to_string(member_id),
                                   token_id,
                                   CeilMillis(expires_at),
                                   std::to_string(ToUnixMillis(clock_.Now())),
                                   prefix_ + "deny:feed"};
  redis::ReplyResult reply = co_await client_.Eval(kDeny, std::move(keys), std::move(args));
  Status st = Done(reply);
  if (!st.ok()) co_return st;
  co_return co_await replica_.DenyToken(member_id, std::move(token_id), expires_at);
}

asio::awaitable<Status> RedisTokenDenylist::DenyFamily(std::int64_t member_id,
                                                       std::string family_id,
                                                       TimePoint expires_at) {
  if (family_id.empty()) co_return Ok();  // denies nothing
  std::vector<std::string> keys = {prefix_ + "deny:families"};
  std::vector<std::string> args = {"f",
                                   std::to_string(member_id),
                                   family_id,
                                   CeilMillis(expires_at),
                                   std::to_string(ToUnixMillis(clock_.Now())),
                                   prefix_ + "deny:feed"};
  redis::ReplyResult reply = co_await client_.Eval(kDeny, std::move(keys), std::move(args));
  Status st = Done(reply);
  if (!st.ok()) co_return st;
  co_return co_await replica_.DenyFamily(member_id, std::move(family_id), expires_at);
}

asio::awaitable<Status> RedisTokenDenylist::InvalidateBefore(std::int64_t member_id,
                                                             TimePoint valid_after) {
  std::vector<std::string> keys = {prefix_ + "deny:before"};
  std::vector<std::string> args = {std::to_string(member_id), CeilMillis(valid_after),
                                   prefix_ + "deny:feed"};
  redis::ReplyResult reply = co_await client_.Eval(kBefore, std::move(keys), std::move(args));
  Status st = Done(reply);
  if (!st.ok()) co_return st;
  co_return co_await replica_.InvalidateBefore(member_id, valid_after);
}

}  // namespace rocketmart::gateway
