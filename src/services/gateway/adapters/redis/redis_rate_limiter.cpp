#include "services/gateway/adapters/redis/redis_rate_limiter.hpp"

#include <vector>

namespace rocketmart::gateway {
namespace {

namespace asio = boost::asio;

// KEYS: one per check; ARGV: per check its interval and its tolerance (burst x interval), in
// microseconds. Returns {0, 0} (counted against every key) or {i, wait}: the first key refused
// (1-based) and the microseconds until every refused key allows one more; nothing written then.
const redis::Script kAcquire(R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local refused, wait, next = 0, 0, {}
for i = 1, #KEYS do
  local interval, tolerance = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', KEYS[i]) or '0') or 0
  if tat < now then tat = now end
  local n = tat + interval
  local over = n - now - tolerance
  if over > 0 then
    if refused == 0 then refused = i end
    if over > wait then wait = over end
  end
  next[i] = n
end
if refused > 0 then return {refused, wait} end
for i = 1, #KEYS do
  redis.call('SET', KEYS[i], string.format('%d', next[i]), 'PX', math.floor((next[i] - now) / 1000) + 1)
end
return {0, 0}
)lua");

}  // namespace

RedisRateLimiter::RedisRateLimiter(redis::Client& client, std::string prefix)
    : client_(client), prefix_(std::move(prefix)) {}

asio::awaitable<Result<RateVerdict>> RedisRateLimiter::Acquire(std::span<const RateCheck> checks) {
  std::vector<std::string> keys;
  std::vector<std::string> args;
  keys.reserve(checks.size());
  args.reserve(2 * checks.size());
  for (const RateCheck& c : checks) {
    keys.push_back(prefix_ + "rl:" + c.key.ToString());
    const std::int64_t interval = c.limit.IntervalMicros();
    args.push_back(std::to_string(interval));
    args.push_back(std::to_string(interval * c.limit.burst));
  }
  redis::ReplyResult reply = co_await client_.Eval(kAcquire, std::move(keys), std::move(args));
  if (!reply.ok()) co_return reply.error();
  if (reply->type != redis::Reply::Type::kArray || reply->elements.size() != 2 ||
      reply->elements[0].type != redis::Reply::Type::kInteger ||
      reply->elements[1].type != redis::Reply::Type::kInteger) {
    co_return MakeError(Errc::kUnavailable, "redis rate limiter: unexpected answer " + reply->str);
  }
  RateVerdict verdict;
  verdict.refused = static_cast<int>(reply->elements[0].integer) - 1;
  if (!verdict.allowed()) {
    verdict.retry_after =
        std::chrono::microseconds(std::max<long long>(1, reply->elements[1].integer));
  }
  co_return verdict;
}

}  // namespace rocketmart::gateway
