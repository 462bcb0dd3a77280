#include "services/members/adapters/redis/redis_throttle_store.hpp"

#include <chrono>
#include <vector>

namespace rocketmart::members {
namespace {

namespace asio = boost::asio;

// KEYS[1]; ARGV: limit, window ms, now ms. Returns -1 (counted) or the ms until the window ends.
const redis::Script kWindow(R"lua(
local k = KEYS[1]
local limit, win, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local v = redis.call('HMGET', k, 'c', 'x')
local c, x = tonumber(v[1] or '0'), tonumber(v[2] or '0')
if c > 0 and x <= now then c = 0 end
if c == 0 then x = now + win end
if c >= limit then return x - now end
redis.call('HSET', k, 'c', c + 1, 'x', x)
redis.call('PEXPIRE', k, math.max(1, x - now))
return -1
)lua");

// KEYS[1]; ARGV: now ms, memory ms, free attempts, then the lockout (ms) of attempt free+1,
// free+2, ... (the last one repeats). Returns -1 (counted) or the ms until the lockout ends.
const redis::Script kBackoff(R"lua(
local k = KEYS[1]
local now, mem, free = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local v = redis.call('HMGET', k, 'c', 's', 'b', 'x')
local c, s, b, x = tonumber(v[1] or '0'), tonumber(v[2] or '0'), tonumber(v[3] or '0'),
                   tonumber(v[4] or '0')
if c > 0 and x <= now then c, s, b = 0, 0, 0 end
if b > now then return b - now end
if c > 0 and now - s >= mem then c, b = 0, 0 end
c = c + 1
local ladder = #ARGV - 3
if c > free and ladder > 0 then
  local lock = tonumber(ARGV[3 + math.min(c - free, ladder)])
  if lock > 0 then b = now + lock end
end
x = math.max(now + mem, b)
redis.call('HSET', k, 'c', c, 's', now, 'b', b, 'x', x, 'f', free)
redis.call('PEXPIRE', k, math.max(1, x - now))
return -1
)lua");

// KEYS[1]. Takes one attempt back; lifts the lockout once back within the free attempts.
const redis::Script kForgive(R"lua(
local k = KEYS[1]
local v = redis.call('HMGET', k, 'c', 'f')
local c = tonumber(v[1] or '0')
if c <= 0 then return 0 end
c = c - 1
redis.call('HSET', k, 'c', c)
if c <= tonumber(v[2] or '0') then redis.call('HSET', k, 'b', 0) end
return 1
)lua");

std::string Ms(std::chrono::milliseconds d) {
  return std::to_string(d.count());
}

std::string Ms(TimePoint t) {
  return std::to_string(ToUnixMillis(t));
}

// The script's answer as a verdict: -1 = counted; n >= 0 = wait n ms (whole seconds, rounded up).
Result<ThrottleVerdict> Verdict(const redis::ReplyResult& reply, TimePoint now) {
  if (!reply.ok()) return reply.error();
  if (reply->type != redis::Reply::Type::kInteger) {
    return MakeError(Errc::kUnavailable, "redis throttle: unexpected answer " + reply->str);
  }
  if (reply->integer < 0) return ThrottleVerdict(std::nullopt);
  return ThrottleVerdict(SecondsUntil(now + std::chrono::milliseconds(reply->integer), now));
}

Status Done(const redis::ReplyResult& reply) {
  if (!reply.ok()) return reply.error();
  if (reply->is_error()) return MakeError(Errc::kUnavailable, "redis throttle: " + reply->str);
  return Ok();
}

}  // namespace

RedisThrottleStore::RedisThrottleStore(redis::Client& client, std::string prefix)
    : client_(client), prefix_(std::move(prefix)) {}

asio::awaitable<Result<ThrottleVerdict>> RedisThrottleStore::Acquire(std::string key,
                                                                     WindowRule rule,
                                                                     TimePoint now) {
  std::vector<std::string> keys = {Key(key)};
  std::vector<std::string> args = {std::to_string(rule.limit),
                                   Ms(std::chrono::milliseconds(rule.window)), Ms(now)};
  redis::ReplyResult reply = co_await client_.Eval(kWindow, std::move(keys), std::move(args));
  co_return Verdict(reply, now);
}

asio::awaitable<Result<ThrottleVerdict>> RedisThrottleStore::Attempt(std::string key,
                                                                     BackoffRule rule,
                                                                     TimePoint now) {
  std::vector<std::string> keys = {Key(key)};
  std::vector<std::string> args = {Ms(now), Ms(std::chrono::milliseconds(rule.memory)),
                                   std::to_string(rule.free_failures)};
  // The ladder until it stops growing (the cap): the script repeats its last step.
  std::chrono::seconds previous{-1};
  for (int attempt = rule.free_failures + 1; args.size() < 3 + 64; ++attempt) {
    const std::chrono::seconds lockout = LockoutAfter(rule, attempt);
    if (lockout == previous) break;
    args.push_back(Ms(std::chrono::milliseconds(lockout)));
    previous = lockout;
  }
  redis::ReplyResult reply = co_await client_.Eval(kBackoff, std::move(keys), std::move(args));
  co_return Verdict(reply, now);
}

asio::awaitable<Status> RedisThrottleStore::Forgive(std::string key) {
  std::vector<std::string> keys = {Key(key)};
  std::vector<std::string> no_args;
  redis::ReplyResult reply = co_await client_.Eval(kForgive, std::move(keys), std::move(no_args));
  co_return Done(reply);
}

asio::awaitable<Status> RedisThrottleStore::Reset(std::string key) {
  std::vector<std::string> args = {"DEL", Key(key)};
  redis::ReplyResult reply = co_await client_.Command(std::move(args));
  co_return Done(reply);
}

}  // namespace rocketmart::members
