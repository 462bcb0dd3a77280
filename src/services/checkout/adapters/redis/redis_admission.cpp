#include "services/checkout/adapters/redis/redis_admission.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/steady_timer.hpp>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <random>
#include <unordered_map>
#include <vector>

#include "services/checkout/adapters/redis/redis_idempotency_gate.hpp"
#include "services/checkout/adapters/redis/redis_key_state.hpp"

namespace rocketmart::checkout {
namespace {

namespace asio = boost::asio;

// An instance's in-flight count and a sequence number, changed together in one atomic word (the
// count in the low bits): every change gets a new sequence, and Redis keeps the newest.
class FlightCount {
 public:
  struct Value {
    std::uint64_t seq = 0;
    std::uint64_t count = 0;
  };
  Value Add() { return Change((std::uint64_t{1} << kBits) + 1); }
  Value Remove() { return Change((std::uint64_t{1} << kBits) - 1); }

 private:
  static constexpr unsigned kBits = 24;
  Value Change(std::uint64_t delta) {
    const std::uint64_t v = word_.fetch_add(delta, std::memory_order_acq_rel) + delta;
    return Value{v >> kBits, v & ((std::uint64_t{1} << kBits) - 1)};
  }
  std::atomic<std::uint64_t> word_{0};
};

// Shared by the scripts: Redis's clock in ms; one instance's absolute in-flight count written
// only when newer than the stored one; whether a live instance has something in flight (entries
// past their deadline are dead instances: pruned); a product's counters when valid.
constexpr const char* kPrelude = R"lua(
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function flight(f, inst, seq, count, deadline)
  local cur = redis.call('HGET', f, inst)
  if cur then
    local s = tonumber(string.match(cur, '^%d+:(%d+):'))
    if s and s >= seq then return end
  end
  redis.call('HSET', f, inst, count .. ':' .. seq .. ':' .. deadline)
end
local function busy(f, now)
  if redis.call('TYPE', f).ok ~= 'hash' then return false end
  local all = redis.call('HGETALL', f)
  local b = false
  for i = 1, #all, 2 do
    local c, d = string.match(all[i + 1], '^(%d+):%d+:(%d+)$')
    if not c or tonumber(d) <= now then
      redis.call('HDEL', f, all[i])
    elseif tonumber(c) > 0 then
      b = true
    end
  end
  return b
end
local function current_epoch(e)
  local ep = redis.call('GET', e)
  if not ep then return false end
  local run = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
  if string.sub(ep, 1, #run + 1) ~= run .. ':' then
    redis.call('DEL', e)
    return false
  end
  return ep
end
local function valid(p, ep)
  return ep and redis.call('TYPE', p).ok == 'hash' and redis.call('HGET', p, 'e') == ep
end
local function give(p, m, member, q, ep, gstart)
  local t = redis.call('TYPE', p).ok
  if ep and t == 'none' then
    redis.call('HSET', p, 'a', q, 'g', gstart, 'e', ep)
    return q
  end
  if not valid(p, ep) then return -1 end
  local a = redis.call('HINCRBY', p, 'a', q)
  redis.call('HINCRBY', p, 'g', 1)
  if member ~= '0' and redis.call('TYPE', m).ok == 'hash' then
    if redis.call('HINCRBY', m, member, -q) <= 0 then redis.call('HDEL', m, member) end
  end
  return a
end
)lua";

redis::Script MakeScript(const char* body) {
  return redis::Script(std::string(kPrelude) + body);
}

// KEYS: epoch, keys set, then per line p, m, f. ARGV: member, key field ('' = none), instance,
// deadline ms, then per line q, limit, seq, count.
// Answers {0 admitted | 1 limit | 2 sold out | 3 insufficient | 4 key used, available per line
// read} or {-1}: no valid counters (no epoch, or the product is not rebuilt in it).
const redis::Script kAdmit = MakeScript(R"lua(
local ep = redis.call('GET', KEYS[1])
if not ep then return {-1} end
local member, kf = ARGV[1], ARGV[2]
local n = (#KEYS - 2) / 3
local out = {0}
for i = 1, n do
  local k, a = 2 + 3 * (i - 1), 4 + 4 * (i - 1)
  local v = redis.call('HMGET', KEYS[k + 1], 'a', 'e')
  if v[2] ~= ep then return {-1} end
  local avail, q = tonumber(v[1]), tonumber(ARGV[a + 1])
  out[i + 1] = avail
  if avail <= 0 then out[1] = 2 return out end
  local owned = tonumber(redis.call('HGET', KEYS[k + 2], member) or '0')
  if owned + q > tonumber(ARGV[a + 2]) then out[1] = 1 return out end
  if avail < q then out[1] = 3 return out end
end
if kf ~= '' and redis.call('SADD', KEYS[2], kf) == 0 then out[1] = 4 return out end
local deadline = now_ms() + tonumber(ARGV[4])
for i = 1, n do
  local k, a = 2 + 3 * (i - 1), 4 + 4 * (i - 1)
  local q = tonumber(ARGV[a + 1])
  out[i + 1] = redis.call('HINCRBY', KEYS[k + 1], 'a', -q)
  redis.call('HINCRBY', KEYS[k + 1], 'g', 1)
  redis.call('HINCRBY', KEYS[k + 2], member, q)
  flight(KEYS[k + 3], ARGV[3], tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4]), deadline)
end
return out
)lua");

// KEYS: per line f (or the returns hash). ARGV: instance, deadline ms, then per key seq, count.
// KEYS: product hashes. Answers each one's available units (-1: none, or not a number).
const redis::Script kReadAvailable(R"lua(
local out = {}
for i, k in ipairs(KEYS) do
  local ok, a = pcall(redis.call, 'HGET', k, 'a')
  out[i] = (ok and tonumber(a)) or -1
end
return out
)lua");

const redis::Script kFlight = MakeScript(R"lua(
local deadline = now_ms() + tonumber(ARGV[2])
for i = 1, #KEYS do
  flight(KEYS[i], ARGV[1], tonumber(ARGV[1 + 2 * i]), tonumber(ARGV[2 + 2 * i]), deadline)
end
return 0
)lua");

// KEYS: epoch, keys set, done marker, rgen, then per line p, m, f (f = '' for a Return). ARGV:
// member, key field ('' = none), instance, deadline ms, g start, '1' = a return (bumps rgen),
// then per line q, seq, count.
// Answers {-2} when the give-back was applied already, else the available per line (-1: the
// product's counters are not valid; the rebuild sets them).
const redis::Script kGiveBack = MakeScript(R"lua(
if not redis.call('SET', KEYS[3], '1', 'NX', 'PX', 600000) then return {-2} end
local ep = redis.call('GET', KEYS[1])
local member, kf = ARGV[1], ARGV[2]
local deadline = now_ms() + tonumber(ARGV[4])
local n = (#KEYS - 4) / 3
local out = {}
if ARGV[6] == '1' then redis.call('INCR', KEYS[4]) end
for i = 1, n do
  local k, a = 4 + 3 * (i - 1), 6 + 3 * (i - 1)
  out[i] = give(KEYS[k + 1], KEYS[k + 2], member, tonumber(ARGV[a + 1]), ep, ARGV[5])
  if KEYS[k + 3] ~= '' then
    flight(KEYS[k + 3], ARGV[3], tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3]), deadline)
  end
end
if kf ~= '' then redis.call('SREM', KEYS[2], kf) end
return out
)lua");

// KEYS: rgen, returns hash. ARGV: instance, deadline ms, seq, count, '1' = bump rgen.
const redis::Script kReturnBracket = MakeScript(R"lua(
if ARGV[5] == '1' then redis.call('INCR', KEYS[1]) end
flight(KEYS[2], ARGV[1], tonumber(ARGV[3]), tonumber(ARGV[4]), now_ms() + tonumber(ARGV[2]))
return 0
)lua");

// KEYS: epoch. ARGV: random. Makes the epoch valid for this server run: kept when it is
// already, a new one otherwise (every product's counters then wait for their rebuild).
const redis::Script kStart = MakeScript(R"lua(
local ep = current_epoch(KEYS[1])
if ep then return 0 end
local run = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
redis.call('SET', KEYS[1], run .. ':' .. ARGV[1])
return 1
)lua");

// KEYS: epoch, p, f, rgen, returns. Answers {-1} while something is in flight on a valid
// product, else {g (0: the product is not valid), rgen, available (-1: not valid)}.
const redis::Script kBeginRebuild = MakeScript(R"lua(
local now = now_ms()
local ep = current_epoch(KEYS[1])
local rgen = tonumber(redis.call('GET', KEYS[4]) or '0')
if not valid(KEYS[2], ep) then return {0, rgen, -1} end
if busy(KEYS[5], now) or busy(KEYS[3], now) then return {-1} end
local v = redis.call('HMGET', KEYS[2], 'g', 'a')
return {tonumber(v[1]), rgen, tonumber(v[2])}
)lua");

// KEYS: epoch, p, m, f, rgen, returns. ARGV: token g, token rgen, random (a new epoch), g start,
// available, then member, units pairs. Answers {0} when something moved, else {1, kind (below),
// old available (-1: none, -2: corrupt), members whose units differed}.
const redis::Script kFinishRebuild = MakeScript(R"lua(
local now = now_ms()
local ep = current_epoch(KEYS[1])
local was = valid(KEYS[2], ep)
local g = 0
if was then g = tonumber(redis.call('HGET', KEYS[2], 'g')) end
if g ~= tonumber(ARGV[1]) then return {0} end
if was then
  if tonumber(redis.call('GET', KEYS[5]) or '0') ~= tonumber(ARGV[2]) then return {0} end
  if busy(KEYS[6], now) or busy(KEYS[4], now) then return {0} end
end
-- What the counters were: 0 valid, 1 not valid in a valid epoch (deleted, corrupted, from
-- before a restart), 2 no epoch (the data was lost).
local kind = 0
if not was then kind = ep and 1 or 2 end
if not ep then
  local run = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
  ep = run .. ':' .. ARGV[3]
  redis.call('SET', KEYS[1], ep)
end
local old_a, differ, t = -1, 0, redis.call('TYPE', KEYS[2]).ok
if t == 'hash' then
  old_a = tonumber(redis.call('HGET', KEYS[2], 'a') or '-2')
elseif t ~= 'none' then
  old_a = -2
end
local old = {}
if redis.call('TYPE', KEYS[3]).ok == 'hash' then
  local all = redis.call('HGETALL', KEYS[3])
  for i = 1, #all, 2 do old[all[i]] = tonumber(all[i + 1]) end
end
for i = 6, #ARGV, 2 do
  if old[ARGV[i]] ~= tonumber(ARGV[i + 1]) then differ = differ + 1 end
  old[ARGV[i]] = nil
end
for _, u in pairs(old) do if u > 0 then differ = differ + 1 end end
redis.call('DEL', KEYS[2], KEYS[3])
local newg = tonumber(ARGV[4])
if was then newg = g + 1 end
redis.call('HSET', KEYS[2], 'a', ARGV[5], 'g', newg, 'e', ep)
for i = 6, #ARGV, 1000 do
  redis.call('HSET', KEYS[3], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
return {1, kind, old_a, differ}
)lua");

std::vector<std::string> EvalCommand(bool eval, const redis::Script& script,
                                     const std::vector<std::string>& keys,
                                     const std::vector<std::string>& args) {
  std::vector<std::string> out;
  out.reserve(3 + keys.size() + args.size());
  out.emplace_back(eval ? "EVAL" : "EVALSHA");
  out.push_back(eval ? script.source() : script.sha1());
  out.push_back(std::to_string(keys.size()));
  out.insert(out.end(), keys.begin(), keys.end());
  out.insert(out.end(), args.begin(), args.end());
  return out;
}

std::int64_t Element(const redis::Reply& reply, std::size_t i) {
  if (i >= reply.elements.size()) return -1;
  return reply.elements[i].AsInteger().value_or(-1);
}

Error Unavailable(const std::string& why) {
  return MakeError(Errc::kUnavailable, "purchases are paused for a moment (" + why + "); retry");
}

}  // namespace

class AdmissionSlot final : public ProductCounter {
 public:
  AdmissionSlot(const void* owner, std::int64_t id, const std::string& base)
      : owner(owner),
        id_(id),
        p(base + "p:" + std::to_string(id)),
        m(base + "m:" + std::to_string(id)),
        f(base + "f:" + std::to_string(id)) {}
  std::int64_t product_id() const override { return id_; }
  std::optional<std::int64_t> Available() const override {
    if (!known.load(std::memory_order_acquire)) return std::nullopt;
    return available.load(std::memory_order_relaxed);
  }
  // True when the value shown changed (or was unknown).
  bool Seen(std::int64_t a) {
    if (a < 0) return false;
    if (a > 0) InStock();
    const bool changed = available.exchange(a, std::memory_order_relaxed) != a ||
                         !known.load(std::memory_order_acquire);
    known.store(true, std::memory_order_release);
    return changed;
  }
  // A give-back this instance sends: shown at once (a cancel's unit is visible to the member who
  // cancelled before Redis answers); the script's reply then sets the value Redis has.
  void GivenBack(std::int64_t units) {
    available.fetch_add(units, std::memory_order_relaxed);
    InStock();
  }

  // The sold-out mark (see the header). `stock_seen` moves whenever stock is seen or given back,
  // so a sold-out reply to a script sent before that cannot set the mark after it.
  bool SoldOutAt(std::int64_t now_us) const {
    return now_us < sold_out_until_us.load(std::memory_order_acquire);
  }
  // The mark's time left at `now_us` (0: not marked).
  std::int64_t SoldOutLeftAt(std::int64_t now_us) const {
    return std::max<std::int64_t>(0, sold_out_until_us.load(std::memory_order_acquire) - now_us);
  }
  std::uint64_t StockSeen() const { return stock_seen.load(std::memory_order_acquire); }
  void MarkSoldOut(std::uint64_t stock_seen_before, std::int64_t until_us) {
    if (stock_seen.load(std::memory_order_acquire) != stock_seen_before) return;
    sold_out_until_us.store(until_us, std::memory_order_release);
    // InStock may have run between the check and the store: it bumped the count first, so
    // seeing it here undoes the mark; a later InStock clears it itself.
    if (stock_seen.load(std::memory_order_acquire) != stock_seen_before) {
      sold_out_until_us.store(0, std::memory_order_release);
    }
  }
  void InStock() {
    stock_seen.fetch_add(1, std::memory_order_acq_rel);
    sold_out_until_us.store(0, std::memory_order_release);
  }

  const void* const owner;  // the adapter's shared state it belongs to

 private:
  const std::int64_t id_;

 public:
  const std::string p, m, f;
  std::atomic<std::int64_t> available{0};
  std::atomic<bool> known{false};  // a reply has shown the counter's value
  FlightCount flight;
  std::atomic<std::int64_t> sold_out_until_us{0};  // clock micros; 0: not marked
  std::atomic<std::uint64_t> stock_seen{0};
};

struct RedisAdmission::Shared {
  Shared(redis::Client& c, metrics::Registry& metrics, RedisAdmissionOptions o)
      : client(c),
        options(std::move(o)),
        clock(options.clock != nullptr ? *options.clock : system_clock),
        base(options.prefix + "adm:"),
        epoch(AdmissionEpochKey(options.prefix)),
        rgen(base + "rgen"),
        returns(base + "returns"),
        keys(AdmissionKeysSet(options.prefix)),
        drifted(metrics.GetCounter(
            "checkout_admission_drift_total",
            "Rebuilds that found Redis's admission counters differing from the database")),
        drift_units(metrics.GetCounter(
            "checkout_admission_drift_units_total",
            "Units by which Redis's stock counters differed from the database at rebuilds")),
        unavailable(metrics.GetCounter(
            "checkout_admission_unavailable_total",
            "Purchases refused because shared admission could not answer (Redis down or "
            "rebuilding)")) {
    std::random_device rd;
    rng.seed(
        (std::uint64_t{rd()} << 32) ^ rd() ^
        static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()));
    instance = Hex(rng());
  }

  std::string Hex(std::uint64_t v) {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
    return std::string(buf, 16);
  }
  std::uint64_t Random() {
    std::lock_guard lock(rng_mutex);
    return rng();
  }
  // A generation's first value when counters are created: far from any earlier one.
  std::string GenerationStart() { return std::to_string(1 + (Random() >> 24)); }
  std::string DoneKey() {
    return base + "done:" + instance + ":" + std::to_string(give_backs.fetch_add(1) + 1);
  }
  std::string Deadline() const { return std::to_string(options.in_flight_deadline.count()); }

  AdmissionSlot& Slot(std::int64_t product_id) {
    std::lock_guard lock(products_mutex);
    auto& slot = products[product_id];
    if (!slot) slot = std::make_unique<AdmissionSlot>(this, product_id, base);
    return *slot;
  }
  // A line's counter: this adapter's own handle (no lookup), else found by its product.
  AdmissionSlot& Own(ProductCounter* counter) {
    auto* slot = dynamic_cast<AdmissionSlot*>(counter);
    if (slot && slot->owner == this) return *slot;
    return Slot(counter->product_id());
  }

  // A notification: sent without waiting, retried on a transport failure (the scripts are
  // idempotent), given up after options.notify_attempts sends.
  struct Notification {
    const redis::Script* script = nullptr;  // nullptr: `args` is a plain command
    std::vector<std::string> keys;
    std::vector<std::string> args;
    std::function<void(const redis::Reply&)> on_reply;
    int sends = 0;
  };

  static void Send(std::shared_ptr<Shared> self, std::shared_ptr<redis::Connection> conn,
                   std::shared_ptr<Notification> n, bool eval) {
    std::vector<std::string> command =
        n->script ? EvalCommand(eval, *n->script, n->keys, n->args) : n->args;
    ++n->sends;
    redis::Connection& c = *conn;
    c.AsyncCommand(
        std::move(command), std::nullopt,
        [self = std::move(self), conn = std::move(conn), n = std::move(n),
         eval](redis::ReplyResult reply) mutable {
          if (reply.ok() && n->script && !eval && reply->IsErrorCode("NOSCRIPT")) {
            Send(std::move(self), std::move(conn), std::move(n), true);
            return;
          }
          if (reply.ok()) {
            if (reply->is_error()) {
              spdlog::warn("checkout: an admission notification was refused: {}", reply->str);
              self->lost.fetch_add(1, std::memory_order_relaxed);
            } else if (n->on_reply) {
              n->on_reply(*reply);
            }
            self->pending.fetch_sub(1, std::memory_order_acq_rel);
            return;
          }
          if (n->sends >= self->options.notify_attempts) {
            spdlog::warn(
                "checkout: an admission notification was given up after {} sends "
                "({}); the next rebuild repairs what it changed",
                n->sends, reply.error().message);
            self->lost.fetch_add(1, std::memory_order_relaxed);
            self->pending.fetch_sub(1, std::memory_order_acq_rel);
            return;
          }
          auto timer = std::make_shared<asio::steady_timer>(
              conn->executor(), self->options.notify_retry * (1 << (n->sends - 1)));
          asio::steady_timer& t = *timer;
          t.async_wait([timer = std::move(timer), self = std::move(self), conn = std::move(conn),
                        n = std::move(n)](boost::system::error_code ec) mutable {
            if (ec) {
              self->lost.fetch_add(1, std::memory_order_relaxed);
              self->pending.fetch_sub(1, std::memory_order_acq_rel);
              return;
            }
            Send(std::move(self), std::move(conn), std::move(n), false);
          });
        });
  }

  void Notify(const std::shared_ptr<Shared>& self, Notification n) {
    pending.fetch_add(1, std::memory_order_acq_rel);
    auto conn = client.ConnectionForThisThread().shared_from_this();
    Send(self, std::move(conn), std::make_shared<Notification>(std::move(n)), false);
  }

  std::int64_t NowMicros() const {
    return std::chrono::duration_cast<std::chrono::microseconds>(clock.Now().time_since_epoch())
        .count();
  }

  redis::Client& client;
  const RedisAdmissionOptions options;
  SystemClock system_clock;
  const Clock& clock;
  const std::string base, epoch, rgen, returns, keys;
  std::string instance;
  std::mutex rng_mutex;
  std::mt19937_64 rng;
  std::mutex products_mutex;
  std::unordered_map<std::int64_t, std::unique_ptr<AdmissionSlot>> products;
  FlightCount returns_flight;
  std::atomic<std::uint64_t> give_backs{0};
  std::atomic<std::int64_t> pending{0};
  std::atomic<std::uint64_t> lost{0};
  std::atomic<std::int64_t> last_script_warning{-1};  // steady seconds
  metrics::Counter& drifted;
  metrics::Counter& drift_units;
  metrics::Counter& unavailable;
};

RedisAdmission::RedisAdmission(redis::Client& client, metrics::Registry& metrics,
                               RedisAdmissionOptions options)
    : shared_(std::make_shared<Shared>(client, metrics, std::move(options))) {
  std::weak_ptr<Shared> weak = shared_;
  metrics.AddCounterFn("checkout_admission_notifications_lost_total",
                       "Admission notifications to Redis given up (repaired by the next rebuild)",
                       "", [weak]() -> std::uint64_t {
                         auto s = weak.lock();
                         return s ? s->lost.load(std::memory_order_relaxed) : 0;
                       });
}

RedisAdmission::~RedisAdmission() = default;

const std::string& RedisAdmission::instance() const {
  return shared_->instance;
}

std::int64_t RedisAdmission::notifications_pending() const {
  return shared_->pending.load(std::memory_order_acquire);
}

std::uint64_t RedisAdmission::notifications_lost() const {
  return shared_->lost.load(std::memory_order_relaxed);
}

asio::awaitable<Status> RedisAdmission::Start() {
  std::vector<std::string> keys = {shared_->epoch};
  std::vector<std::string> args = {shared_->Hex(shared_->Random())};
  redis::ReplyResult reply =
      co_await shared_->client.Eval(kStart, std::move(keys), std::move(args));
  if (!reply.ok()) co_return reply.error();
  if (reply->is_error()) co_return Unavailable("redis: " + reply->str);
  if (reply->integer == 1) {
    spdlog::info(
        "checkout: admission has a new epoch in redis: every product waits for its "
        "rebuild from the database");
  }
  co_return Ok();
}

asio::awaitable<std::size_t> RedisAdmission::RefreshAvailable() {
  std::vector<AdmissionSlot*> slots;
  {
    std::lock_guard lock(shared_->products_mutex);
    for (auto& [id, slot] : shared_->products) slots.push_back(slot.get());
  }
  // One script per chunk of products (one round trip, not one per product).
  constexpr std::size_t kChunk = 512;
  std::size_t changed = 0;
  for (std::size_t from = 0; from < slots.size(); from += kChunk) {
    const std::size_t to = std::min(slots.size(), from + kChunk);
    std::vector<std::string> keys;
    keys.reserve(to - from);
    for (std::size_t i = from; i < to; ++i) keys.push_back(slots[i]->p);
    std::vector<std::string> no_args;
    redis::ReplyResult reply =
        co_await shared_->client.Eval(kReadAvailable, std::move(keys), std::move(no_args));
    if (!reply.ok() || reply->is_error()) co_return changed;
    for (std::size_t i = from; i < to; ++i) {
      if (slots[i]->Seen(Element(*reply, i - from))) ++changed;
    }
  }
  co_return changed;
}

ProductCounter& RedisAdmission::Counter(std::int64_t product_id) {
  return shared_->Slot(product_id);
}

bool RedisAdmission::SoldOutInMemory(ProductCounter& counter) {
  Shared& s = *shared_;
  return s.options.sold_out_recheck.count() > 0 && s.Own(&counter).SoldOutAt(s.NowMicros());
}

std::chrono::microseconds RedisAdmission::SoldOutMarkLeft(ProductCounter& counter) {
  Shared& s = *shared_;
  if (s.options.sold_out_recheck.count() <= 0) return {};
  return std::chrono::microseconds(s.Own(&counter).SoldOutLeftAt(s.NowMicros()));
}

asio::awaitable<bool> RedisAdmission::KeyUsed(std::int64_t member_id, std::string_view key) {
  std::vector<std::string> command = {"SISMEMBER", shared_->keys,
                                      AdmissionKeyField(member_id, key)};
  redis::ReplyResult reply = co_await shared_->client.Command(std::move(command));
  // Unknown: "may have a record" (a false yes only costs the caller a read).
  if (!reply.ok() || reply->is_error()) co_return true;
  co_return reply->integer != 0;
}

asio::awaitable<bool> RedisAdmission::KeyHeldOrUsed(std::int64_t member_id, const std::string& key,
                                                    IdempotencyGate& gate) {
  auto* redis_gate = dynamic_cast<RedisIdempotencyGate*>(&gate);
  if (redis_gate == nullptr || &redis_gate->client() != &shared_->client) {
    co_return co_await Admission::KeyHeldOrUsed(member_id, key, gate);
  }
  co_return co_await KeyHeldOrUsedInRedis(shared_->client, redis_gate->ClaimKey(member_id, key),
                                          shared_->keys, shared_->epoch,
                                          AdmissionKeyField(member_id, key));
}

asio::awaitable<AdmitAnswer> RedisAdmission::Admit(std::int64_t member_id,
                                                   std::span<const AdmissionLine> lines,
                                                   std::string_view key) {
  Shared& s = *shared_;
  // The first line's product was sold out a moment ago: the script would answer that first.
  const bool recheck = s.options.sold_out_recheck.count() > 0;
  std::int64_t now_us = 0;
  if (recheck && !lines.empty()) {
    now_us = s.NowMicros();
    if (s.Own(lines.front().counter).SoldOutAt(now_us)) {
      co_return AdmitAnswer{MakeError(Errc::kSoldOut, "sold out")};
    }
  }
  std::vector<AdmissionSlot*> slots;
  slots.reserve(lines.size());
  std::vector<std::uint64_t> stock_seen;
  if (recheck) stock_seen.reserve(lines.size());
  std::vector<std::string> keys;
  keys.reserve(2 + 3 * lines.size());
  keys.push_back(s.epoch);
  keys.push_back(s.keys);
  std::vector<std::string> args;
  args.reserve(4 + 4 * lines.size());
  args.push_back(std::to_string(member_id));
  args.push_back(key.empty() ? std::string() : AdmissionKeyField(member_id, key));
  args.push_back(s.instance);
  args.push_back(s.Deadline());
  for (const AdmissionLine& line : lines) {
    AdmissionSlot& slot = s.Own(line.counter);
    slots.push_back(&slot);
    if (recheck) stock_seen.push_back(slot.StockSeen());
    // Counted before the script runs: the count it writes includes this admission.
    const FlightCount::Value v = slot.flight.Add();
    keys.push_back(slot.p);
    keys.push_back(slot.m);
    keys.push_back(slot.f);
    args.push_back(std::to_string(line.quantity));
    args.push_back(std::to_string(line.per_member_limit));
    args.push_back(std::to_string(v.seq));
    args.push_back(std::to_string(v.count));
  }
  redis::ReplyResult reply = co_await s.client.Eval(kAdmit, std::move(keys), std::move(args));
  const std::int64_t code = reply.ok() && !reply->is_error() ? Element(*reply, 0) : -3;
  if (code != 0) {
    // Nothing admitted (or unknown: the count Redis keeps stays high until this instance writes
    // it again or its deadline passes; the next rebuild repairs the counters).
    for (AdmissionSlot* slot : slots) slot->flight.Remove();
  }
  if (reply.ok() && !reply->is_error()) {
    for (std::size_t i = 0; i < slots.size(); ++i) {
      if (i + 1 < reply->elements.size()) slots[i]->Seen(Element(*reply, i + 1));
    }
  }
  switch (code) {
    case 0:
      co_return AdmitAnswer{};
    case 1:
      co_return AdmitAnswer{
          MakeError(Errc::kPurchaseLimitReached, "the per-member limit of this sale is reached")};
    case 2: {
      // The script stops at the sold-out line: its figure is the reply's last element.
      const std::size_t line = reply->elements.size() - 2;
      if (recheck && line < slots.size()) {
        const auto recheck_us =
            std::chrono::duration_cast<std::chrono::microseconds>(s.options.sold_out_recheck);
        slots[line]->MarkSoldOut(stock_seen[line], now_us + recheck_us.count());
      }
      co_return AdmitAnswer{MakeError(Errc::kSoldOut, "sold out")};
    }
    case 3:
      co_return AdmitAnswer{MakeError(Errc::kInsufficientStock, "fewer units left than requested")};
    case 4:
      co_return AdmitAnswer{Ok(), true};
    default:
      break;
  }
  s.unavailable.Add();
  if (!reply.ok()) co_return AdmitAnswer{Unavailable("admission: " + reply.error().message)};
  if (reply->is_error()) {
    // Once a second at most: a corrupted key fails every purchase of its product until the
    // reconciler repairs it.
    const std::int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count();
    if (s.last_script_warning.exchange(now_s) != now_s) {
      spdlog::warn("checkout: the admission script failed: {}", reply->str);
    }
    co_return AdmitAnswer{Unavailable("admission: redis refused the script")};
  }
  co_return AdmitAnswer{Unavailable("admission is being rebuilt from the database")};
}

void RedisAdmission::Settle(std::span<const AdmissionLine> lines) {
  Shared& s = *shared_;
  Shared::Notification n;
  n.script = &kFlight;
  n.args = {s.instance, s.Deadline()};
  for (const AdmissionLine& line : lines) {
    AdmissionSlot& slot = s.Own(line.counter);
    const FlightCount::Value v = slot.flight.Remove();
    n.keys.push_back(slot.f);
    n.args.push_back(std::to_string(v.seq));
    n.args.push_back(std::to_string(v.count));
  }
  s.Notify(shared_, std::move(n));
}

namespace {

// A give-back's notification: Withdraw (in_flight: the lines end their admission) or Return.
void GiveBack(const std::shared_ptr<RedisAdmission::Shared>& shared, std::int64_t member_id,
              std::span<const AdmissionLine> lines, std::string_view key, bool in_flight);

}  // namespace

void RedisAdmission::Withdraw(std::int64_t member_id, std::span<const AdmissionLine> lines,
                              std::string_view key) {
  GiveBack(shared_, member_id, lines, key, true);
}

void RedisAdmission::Return(std::int64_t member_id, std::span<const AdmissionLine> lines) {
  GiveBack(shared_, member_id, lines, std::string_view(), false);
}

namespace {

void GiveBack(const std::shared_ptr<RedisAdmission::Shared>& shared, std::int64_t member_id,
              std::span<const AdmissionLine> lines, std::string_view key, bool in_flight) {
  RedisAdmission::Shared& s = *shared;
  RedisAdmission::Shared::Notification n;
  n.script = &kGiveBack;
  n.keys = {s.epoch, s.keys, s.DoneKey(), s.rgen};
  n.args = {std::to_string(member_id),
            key.empty() ? std::string() : AdmissionKeyField(member_id, key),
            s.instance,
            s.Deadline(),
            s.GenerationStart(),
            in_flight ? "0" : "1"};
  std::vector<AdmissionSlot*> slots;
  for (const AdmissionLine& line : lines) {
    AdmissionSlot& slot = s.Own(line.counter);
    slots.push_back(&slot);
    slot.GivenBack(line.quantity);
    n.keys.push_back(slot.p);
    n.keys.push_back(slot.m);
    n.keys.push_back(in_flight ? slot.f : std::string());
    n.args.push_back(std::to_string(line.quantity));
    if (in_flight) {
      const FlightCount::Value v = slot.flight.Remove();
      n.args.push_back(std::to_string(v.seq));
      n.args.push_back(std::to_string(v.count));
    } else {
      n.args.push_back("0");
      n.args.push_back("0");
    }
  }
  n.on_reply = [slots = std::move(slots)](const redis::Reply& reply) {
    if (Element(reply, 0) == -2) return;
    for (std::size_t i = 0; i < slots.size(); ++i) slots[i]->Seen(Element(reply, i));
  };
  s.Notify(shared, std::move(n));
}

}  // namespace

namespace {

// BeginReturn (begin: the count grows and the return generation moves) or EndReturn.
void ReturnBracket(const std::shared_ptr<RedisAdmission::Shared>& shared, bool begin) {
  RedisAdmission::Shared& s = *shared;
  const FlightCount::Value v = begin ? s.returns_flight.Add() : s.returns_flight.Remove();
  RedisAdmission::Shared::Notification n;
  n.script = &kReturnBracket;
  n.keys = {s.rgen, s.returns};
  n.args = {s.instance, s.Deadline(), std::to_string(v.seq), std::to_string(v.count),
            begin ? "1" : "0"};
  s.Notify(shared, std::move(n));
}

}  // namespace

void RedisAdmission::BeginReturn() {
  ReturnBracket(shared_, true);
}

void RedisAdmission::EndReturn() {
  ReturnBracket(shared_, false);
}

asio::awaitable<bool> RedisAdmission::ClaimKey(std::int64_t member_id, std::string_view key) {
  std::vector<std::string> command = {"SADD", shared_->keys, AdmissionKeyField(member_id, key)};
  redis::ReplyResult reply = co_await shared_->client.Command(std::move(command));
  // Unknown: "used" (the caller answers from the record, or goes on without the claim when
  // there is none: the database's record decides).
  if (!reply.ok() || reply->is_error()) co_return false;
  co_return reply->integer == 1;
}

void RedisAdmission::ReleaseKey(std::int64_t member_id, std::string_view key) {
  Shared::Notification n;
  n.args = {"SREM", shared_->keys, AdmissionKeyField(member_id, key)};
  shared_->Notify(shared_, std::move(n));
}

void RedisAdmission::ForgetKeys(std::span<const IdempotencyKeyRef> keys) {
  constexpr std::size_t kChunk = 500;
  for (std::size_t i = 0; i < keys.size(); i += kChunk) {
    Shared::Notification n;
    n.args = {"SREM", shared_->keys};
    for (std::size_t j = i; j < std::min(keys.size(), i + kChunk); ++j) {
      n.args.push_back(AdmissionKeyField(keys[j].member_id, keys[j].key));
    }
    shared_->Notify(shared_, std::move(n));
  }
}

void RedisAdmission::KeepKey(std::int64_t member_id, std::string_view key) {
  Shared::Notification n;
  n.args = {"SADD", shared_->keys, AdmissionKeyField(member_id, key)};
  shared_->Notify(shared_, std::move(n));
}

asio::awaitable<std::optional<RebuildToken>> RedisAdmission::BeginRebuild(ProductCounter& counter) {
  Shared& s = *shared_;
  AdmissionSlot& slot = s.Slot(counter.product_id());
  std::vector<std::string> keys = {s.epoch, slot.p, slot.f, s.rgen, s.returns};
  std::vector<std::string> args;
  redis::ReplyResult reply =
      co_await s.client.Eval(kBeginRebuild, std::move(keys), std::move(args));
  if (!reply.ok() || reply->is_error()) {
    spdlog::warn("checkout: admission rebuild of product {} could not start: {}",
                 counter.product_id(), reply.ok() ? reply->str : reply.error().message);
    co_return std::nullopt;
  }
  const std::int64_t g = Element(*reply, 0);
  if (g < 0) co_return std::nullopt;
  slot.Seen(Element(*reply, 2));
  co_return RebuildToken{static_cast<std::uint64_t>(g),
                         static_cast<std::uint64_t>(std::max<std::int64_t>(0, Element(*reply, 1)))};
}

asio::awaitable<bool> RedisAdmission::FinishRebuild(ProductCounter& counter, RebuildToken token,
                                                    const StockSnapshot& snapshot) {
  Shared& s = *shared_;
  const std::int64_t product = counter.product_id();
  AdmissionSlot& slot = s.Slot(product);
  std::vector<std::string> keys = {s.epoch, slot.p, slot.m, slot.f, s.rgen, s.returns};
  std::vector<std::string> args;
  args.reserve(5 + 2 * snapshot.member_units.size());
  args.push_back(std::to_string(token.product_generation));
  args.push_back(std::to_string(token.return_generation));
  args.push_back(s.Hex(s.Random()));
  args.push_back(s.GenerationStart());
  args.push_back(std::to_string(snapshot.available));
  for (const auto& [member, units] : snapshot.member_units) {
    if (units <= 0) continue;
    args.push_back(std::to_string(member));
    args.push_back(std::to_string(units));
  }
  redis::ReplyResult reply =
      co_await s.client.Eval(kFinishRebuild, std::move(keys), std::move(args));
  if (!reply.ok() || reply->is_error()) {
    spdlog::warn("checkout: admission rebuild of product {} could not finish: {}", product,
                 reply.ok() ? reply->str : reply.error().message);
    co_return false;
  }
  if (Element(*reply, 0) != 1) co_return false;
  slot.Seen(snapshot.available);
  // The caller's handle may be another instance's (a test passes one): it shows the value too.
  if (auto* theirs = dynamic_cast<AdmissionSlot*>(&counter)) theirs->Seen(snapshot.available);
  const std::int64_t kind = Element(*reply, 1);
  const std::int64_t old_available = Element(*reply, 2);
  const std::int64_t members_differing = Element(*reply, 3);
  if (kind == 2) {
    spdlog::warn(
        "checkout: admission counters of product {} rebuilt from the database after "
        "redis lost them ({} available)",
        product, snapshot.available);
  } else if (old_available != -1 &&
             (old_available != snapshot.available || members_differing > 0)) {
    // Counters that were there (valid, or left from before a restart, or corrupt) and wrong.
    s.drifted.Add();
    if (old_available >= 0) {
      s.drift_units.Add(static_cast<std::uint64_t>(std::llabs(old_available - snapshot.available)));
    }
    spdlog::warn(
        "checkout: admission drift on product {}: redis said {} available{}, the "
        "database {}; {} members' units differed; repaired",
        product, old_available, kind == 1 ? " (not valid in this epoch)" : "", snapshot.available,
        members_differing);
  } else if (old_available == -1) {
    spdlog::info(
        "checkout: admission counters of product {} were not in redis (new to it, or "
        "deleted); rebuilt from the database ({} available)",
        product, snapshot.available);
  }
  co_return true;
}

}  // namespace rocketmart::checkout
