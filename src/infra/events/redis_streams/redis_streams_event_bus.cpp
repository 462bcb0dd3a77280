#include "infra/events/redis_streams/redis_streams_event_bus.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/use_future.hpp>
#include <charconv>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <thread>

#include "core/thread_name.hpp"
#include "infra/redis/client.hpp"

namespace rocketmart::events::redis_streams {
namespace {

constexpr std::memory_order kRelaxed = std::memory_order_relaxed;
using SteadyClock = std::chrono::steady_clock;

// KEYS[1] the stream; ARGV[1] the last seq the caller published; then (seq, topic, payload, at)
// per row. Returns {lost, last}: lost = 1 (and nothing added) when the stream's last id is below
// ARGV[1], i.e. Redis lost entries; otherwise adds each row above the stream's last id.
const redis::Script kPublish(R"lua(
local last = 0
local info = redis.pcall('XINFO', 'STREAM', KEYS[1])
if type(info) == 'table' and not info.err then
  for i = 1, #info, 2 do
    if info[i] == 'last-generated-id' then
      last = tonumber(string.match(info[i + 1], '^(%d+)'))
    end
  end
end
if last < tonumber(ARGV[1]) then return {1, last} end
for i = 2, #ARGV, 4 do
  local seq = tonumber(ARGV[i])
  if seq > last then
    redis.call('XADD', KEYS[1], ARGV[i] .. '-0', 'topic', ARGV[i + 1], 'payload', ARGV[i + 2],
               'at', ARGV[i + 3])
    last = seq
  end
end
return {0, last}
)lua");

// The seq of a stream id "<seq>-<n>"; 0 for anything else.
std::int64_t SeqOf(std::string_view id) {
  std::int64_t seq = 0;
  const auto [end, ec] = std::from_chars(id.data(), id.data() + id.size(), seq);
  return ec == std::errc() ? seq : 0;
}

struct Entry {
  std::string id;  // the stream id
  std::int64_t seq = 0;
  std::optional<Event> event;  // nullopt: deleted, or not one of ours
};

// One stream entry [id, [field, value, ...]] as an Event of `source`.
Entry ParseEntry(const redis::Reply& r, const std::string& source) {
  Entry out;
  if (r.type != redis::Reply::Type::kArray || r.elements.empty()) return out;
  out.id = r.elements[0].str;
  out.seq = SeqOf(out.id);
  if (r.elements.size() < 2 || r.elements[1].type != redis::Reply::Type::kArray) return out;
  const auto& f = r.elements[1].elements;
  std::optional<std::string> topic, payload;
  std::int64_t at = 0;
  for (std::size_t i = 0; i + 1 < f.size(); i += 2) {
    if (f[i].str == "topic") topic = f[i + 1].str;
    if (f[i].str == "payload") payload = f[i + 1].str;
    if (f[i].str == "at") at = f[i + 1].AsInteger().value_or(0);
  }
  if (topic && payload && out.seq > 0) {
    out.event = Event{source + ":" + std::to_string(out.seq), std::move(*topic),
                      std::move(*payload), FromUnixMillis(at)};
  }
  return out;
}

std::vector<Entry> ParseEntries(const redis::Reply& list, const std::string& source) {
  std::vector<Entry> out;
  if (list.type != redis::Reply::Type::kArray) return out;
  for (const auto& r : list.elements) {
    Entry e = ParseEntry(r, source);
    if (!e.id.empty()) out.push_back(std::move(e));
  }
  return out;
}

// XREAD / XREADGROUP: nil, or [[key, [entries]]].
std::vector<Entry> ParseRead(const redis::Reply& r, const std::string& source) {
  if (r.type != redis::Reply::Type::kArray || r.elements.empty()) return {};
  const auto& stream = r.elements[0];
  if (stream.elements.size() < 2) return {};
  return ParseEntries(stream.elements[1], source);
}

std::string DefaultInstance() {
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  return std::string(host) + ":" + std::to_string(::getpid());
}

const redis::Reply* Field(const redis::Reply& flat, std::string_view name) {
  for (std::size_t i = 0; i + 1 < flat.elements.size(); i += 2) {
    if (flat.elements[i].str == name) return &flat.elements[i + 1];
  }
  return nullptr;
}

}  // namespace

struct RedisStreamsEventBus::Source {
  std::string name;
  std::string key;
  OutboxSource* outbox = nullptr;
  std::vector<Sub*> subs;
  std::atomic<std::uint64_t> delivered{0}, failures{0}, dead_letters{0}, reclaimed{0},
      republished{0};
  std::atomic<std::int64_t> last_seq{0};  // the stream's last id, as of the last look
  // Relay thread.
  std::thread thread;
  std::mutex mu;
  std::condition_variable cv;
  bool notified = false;
  std::uint64_t watch_id = 0;
  std::set<std::string> groups_seen;
  std::int64_t pruned = 0;  // the outbox was asked to forget up to here
};

struct RedisStreamsEventBus::Sub {
  std::string name;
  Delivery delivery = Delivery::kEffect;
  Source* source = nullptr;
  ConsumerStore* consumer = nullptr;
  std::vector<std::string> topics;
  std::vector<EventSubscriber*> instances;
  std::atomic<std::int64_t> lag{0};
  std::atomic<std::int64_t> position{0};       // a cache refresh: the last seq handed over
  std::atomic<std::uint64_t> dead_letters{0};  // set aside by this process since Start()

  bool Wants(const std::string& topic) const {
    return std::find(topics.begin(), topics.end(), topic) != topics.end();
  }
};

struct RedisStreamsEventBus::Reader {
  Sub* sub = nullptr;
  EventSubscriber* instance = nullptr;
  std::string consumer;                     // the consumer's name in the group
  std::unique_ptr<redis::Client> blocking;  // its own connection: a blocked read holds it
  std::thread thread;
};

class RedisStreamsEventBus::Impl {
 public:
  Impl(redis::Endpoint endpoint, const Clock& clock, Options options)
      : endpoint_(std::move(endpoint)),
        clock_(clock),
        options_(std::move(options)),
        io_("redis-bus"),
        client_({io_.executor()}, endpoint_, options_.client, "bus") {
    if (options_.instance.empty()) options_.instance = DefaultInstance();
    if (options_.batch == 0) throw std::invalid_argument("RedisStreamsEventBus: batch must be > 0");
  }

  ~Impl() { Stop(); }

  Source& AddSource(std::string name, OutboxSource* outbox) {
    if (started_) throw std::logic_error("RedisStreamsEventBus: sources before Start()");
    if (Source* existing = Find(name)) {
      if (outbox == nullptr || existing->outbox != nullptr) {
        throw std::invalid_argument("RedisStreamsEventBus: source " + name + " added twice");
      }
      existing->outbox = outbox;
      return *existing;
    }
    auto s = std::make_unique<Source>();
    s->key = options_.key_prefix + "events:" + name;
    s->name = std::move(name);
    s->outbox = outbox;
    sources_.push_back(std::move(s));
    return *sources_.back();
  }

  void AddConsumer(ConsumerStore& store) {
    if (started_) throw std::logic_error("RedisStreamsEventBus: consumers before Start()");
    if (FindConsumer(store.service()) != nullptr) {
      throw std::invalid_argument("RedisStreamsEventBus: consumer " + store.service() +
                                  " added twice");
    }
    consumers_.push_back(&store);
  }

  void Subscribe(Subscription s) {
    if (started_) throw std::logic_error("RedisStreamsEventBus::Subscribe after Start()");
    if (s.subscriber == nullptr) throw std::invalid_argument("RedisStreamsEventBus: no subscriber");
    if (s.topics.empty()) throw std::invalid_argument("RedisStreamsEventBus: no topic");
    Source* source = Find(s.source);
    ConsumerStore* consumer = FindConsumer(s.consumer);
    if (source == nullptr || consumer == nullptr) {
      throw std::invalid_argument("RedisStreamsEventBus: unknown service " +
                                  (source == nullptr ? s.source : s.consumer));
    }
    const std::string name(s.subscriber->Name());
    for (Sub* existing : source->subs) {
      if (existing->name != name) continue;
      // Instances of one effect are consumers of one group; anything else sharing a name would
      // share a group or a dead-letter key with a different meaning.
      const bool same_effect = existing->delivery == Delivery::kEffect &&
                               s.delivery == Delivery::kEffect && existing->consumer == consumer &&
                               existing->topics == s.topics;
      if (!same_effect || std::find(existing->instances.begin(), existing->instances.end(),
                                    s.subscriber) != existing->instances.end()) {
        throw std::invalid_argument("event bus: subscriber name " + name + " already used on " +
                                    source->name);
      }
      existing->instances.push_back(s.subscriber);
      return;
    }
    auto sub = std::make_unique<Sub>();
    sub->name = name;
    sub->delivery = s.delivery;
    sub->source = source;
    sub->consumer = consumer;
    sub->topics = std::move(s.topics);
    sub->instances.push_back(s.subscriber);
    if (sub->delivery == Delivery::kCacheRefresh) {
      // A cache refresh starts after what the stream holds now, before the instance loads its
      // state from its database (composition roots subscribe first): an event appended while it
      // loads, or before Start(), is read, not skipped. Unknown (Redis down): from the start,
      // replays are harmless.
      if (auto last = StreamLastSeq(*source)) sub->position = *last;
    }
    source->subs.push_back(sub.get());
    subs_.push_back(std::move(sub));
  }

  void Start() {
    if (stopped_) throw std::logic_error("RedisStreamsEventBus: Start() after Stop()");
    if (started_.exchange(true)) return;
    // spdlog's registry is a function-local static inside libspdlog: create it here, before the
    // threads below race to log first (its guarded initialisation is invisible to TSan, which then
    // reports the first two loggers as a data race).
    (void)spdlog::default_logger_raw();
    for (auto& sub : subs_) {
      // (A cache refresh's position was taken when it subscribed.)
      if (sub->delivery == Delivery::kEffect) {
        EnsureGroup(*sub);  // best effort: a reader creates it when Redis is back
      }
      for (EventSubscriber* instance : sub->instances) {
        auto reader = std::make_unique<Reader>();
        reader->sub = sub.get();
        reader->instance = instance;
        reader->consumer = options_.instance + "/" + std::to_string(readers_.size());
        redis::ClientOptions blocking_options = options_.client;
        blocking_options.connections = 1;
        reader->blocking = std::make_unique<redis::Client>(
            std::vector<redis::Client::Executor>{io_.executor()}, endpoint_, blocking_options,
            "bus-read-" + std::to_string(readers_.size()));
        readers_.push_back(std::move(reader));
      }
    }
    for (auto& source : sources_) {
      Source* s = source.get();
      if (s->outbox != nullptr) {
        s->watch_id = s->outbox->Watch([s] {
          {
            std::lock_guard lock(s->mu);
            s->notified = true;
          }
          s->cv.notify_one();
        });
      }
      s->thread = std::thread([this, s] {
        NameThisThread("relay:" + s->name);
        RelayLoop(*s);
      });
    }
    for (auto& reader : readers_) {
      Reader* r = reader.get();
      r->thread = std::thread([this, r] {
        NameThisThread("bus:" + r->sub->name);
        if (r->sub->delivery == Delivery::kEffect) {
          EffectLoop(*r);
        } else {
          CacheLoop(*r);
        }
      });
    }
  }

  void Stop() {
    std::lock_guard stop_lock(stop_mu_);
    stopped_ = true;
    {
      std::lock_guard lock(sleep_mu_);
      stopping_ = true;
    }
    sleep_cv_.notify_all();
    for (auto& source : sources_) {
      {
        std::lock_guard lock(source->mu);
        source->notified = true;
      }
      source->cv.notify_all();
    }
    // A blocked read answers kUnavailable at once; a Handle in progress finishes and acknowledges
    // over client_, which stays open until every thread is done.
    for (auto& reader : readers_) reader->blocking->Close();
    for (auto& reader : readers_) {
      if (reader->thread.joinable()) reader->thread.join();
    }
    for (auto& source : sources_) {
      if (source->thread.joinable()) source->thread.join();
      if (source->watch_id != 0) {
        source->outbox->Unwatch(source->watch_id);
        source->watch_id = 0;
      }
    }
    client_.Close();
  }

  DeliveryStats Stats(std::string_view name) const {
    const Source* s = Find(name);
    if (s == nullptr || s->subs.empty()) return {};
    DeliveryStats stats{s->delivered.load(kRelaxed), s->failures.load(kRelaxed),
                        s->dead_letters.load(kRelaxed), 0};
    for (const Sub* sub : s->subs) stats.backlog = std::max(stats.backlog, sub->lag.load(kRelaxed));
    return stats;
  }

  std::vector<DeadLetter> DeadLetters(std::string_view consumer) const {
    ConsumerStore* store = FindConsumer(consumer);
    return store ? store->DeadLetters() : std::vector<DeadLetter>{};
  }

  std::int64_t Lag(std::string_view source, std::string_view subscriber) const {
    const Sub* sub = FindSub(source, subscriber);
    return sub ? sub->lag.load(kRelaxed) : -1;
  }

  std::uint64_t DeadLettered(std::string_view source, std::string_view subscriber) const {
    const Sub* sub = FindSub(source, subscriber);
    return sub ? sub->dead_letters.load(kRelaxed) : 0;
  }

  const Sub* FindSub(std::string_view source, std::string_view subscriber) const {
    const Source* s = Find(source);
    if (s == nullptr) return nullptr;
    for (const Sub* sub : s->subs) {
      if (sub->name == subscriber) return sub;
    }
    return nullptr;
  }

  Source* Find(std::string_view name) const {
    for (const auto& s : sources_) {
      if (s->name == name) return s.get();
    }
    return nullptr;
  }

 private:
  ConsumerStore* FindConsumer(std::string_view name) const {
    for (ConsumerStore* c : consumers_) {
      if (c->service() == name) return c;
    }
    return nullptr;
  }

  // Waits `d` unless the bus stops first; false when it stops.
  bool SleepFor(Millis d) {
    std::unique_lock lock(sleep_mu_);
    return !sleep_cv_.wait_for(lock, d, [this] { return stopping_; });
  }
  bool stopping() const {
    std::lock_guard lock(sleep_mu_);
    return stopping_;
  }

  redis::ReplyResult Command(std::vector<std::string> args) {
    return client_.CommandSync(std::move(args));
  }

  // A reply that is neither a transport failure nor an error reply; logs the rest.
  static bool Usable(const redis::ReplyResult& r, std::string_view what) {
    if (!r.ok()) {
      spdlog::debug("events redis: {}: {}", what, r.error().message);
      return false;
    }
    if (r->is_error()) {
      spdlog::warn("events redis: {}: {}", what, r->str);
      return false;
    }
    return true;
  }

  bool EnsureGroup(const Sub& sub) {
    // From the start of what the stream holds: a new group sees what every other group has not
    // acknowledged yet (as a new subscription does on the SQLite bus), a group Redis lost sees
    // the entries published again.
    auto r = Command({"XGROUP", "CREATE", sub.source->key, sub.name, "0", "MKSTREAM"});
    return r.ok() && (!r->is_error() || r->IsErrorCode("BUSYGROUP"));
  }

  std::optional<std::int64_t> StreamLastSeq(const Source& s) {
    auto r = Command({"XINFO", "STREAM", s.key});
    if (!r.ok()) return std::nullopt;
    if (r->is_error()) return 0;  // no such key
    const redis::Reply* last = Field(*r, "last-generated-id");
    return last ? SeqOf(last->str) : 0;
  }

  // ---- relay and housekeeping, one thread per source ----

  void RelayLoop(Source& s) {
    std::optional<std::int64_t> published;  // the last seq known to be in the stream
    auto next_housekeeping = SteadyClock::now();
    Millis backoff{0};
    while (!stopping()) {
      bool more = false;
      bool failed = false;
      if (s.outbox != nullptr) {
        try {
          more = PublishRound(s, published);
        } catch (const std::exception& e) {
          // Once per outage; the outbox keeps everything meanwhile.
          if (backoff.count() == 0) spdlog::warn("events redis: relay {}: {}", s.name, e.what());
          failed = true;
        }
      }
      if (SteadyClock::now() >= next_housekeeping) {
        Housekeeping(s);
        next_housekeeping = SteadyClock::now() + options_.housekeeping_interval;
      }
      if (failed) {
        backoff = backoff.count() == 0 ? options_.retry_backoff_initial
                                       : std::min(options_.retry_backoff_max, backoff * 2);
        if (!SleepFor(backoff)) break;
        continue;
      }
      backoff = Millis{0};
      if (more) continue;
      std::unique_lock lock(s.mu);
      const auto deadline =
          std::min(SteadyClock::now() + options_.poll_interval, next_housekeeping);
      s.cv.wait_until(lock, deadline, [&s] { return s.notified; });
      s.notified = false;
    }
  }

  // Publishes the next batch of the outbox; true when there may be more right away. Throws when
  // Redis or the outbox cannot be reached.
  bool PublishRound(Source& s, std::optional<std::int64_t>& published) {
    std::vector<OutboxRow> rows;
    if (published) rows = s.outbox->ReadAfter(*published, options_.batch);
    std::vector<std::string> args;
    args.reserve(1 + 4 * rows.size());
    args.push_back(std::to_string(published.value_or(0)));
    for (OutboxRow& row : rows) {
      args.push_back(std::to_string(row.seq));
      args.push_back(std::move(row.topic));
      args.push_back(std::move(row.payload));
      args.push_back(std::to_string(ToUnixMillis(row.created_at)));
    }
    auto r = client_.EvalSync(kPublish, {s.key}, std::move(args));
    if (!r.ok()) throw std::runtime_error(r.error().message);
    if (r->is_error() || r->elements.size() != 2) throw std::runtime_error("publish: " + r->str);
    const bool lost = r->elements[0].integer != 0;
    const std::int64_t last = r->elements[1].integer;
    s.last_seq.store(last, kRelaxed);
    if (lost) {
      // Redis lost entries we had published: publish again from what the outbox still holds (it
      // keeps everything some group has not acknowledged).
      spdlog::warn(
          "events redis: stream {} ends at {} but {} was published: publishing again "
          "from the outbox",
          s.key, last, *published);
      s.republished.fetch_add(1, kRelaxed);
      published = last;
      return true;
    }
    const bool first_look = !published;
    published = last;
    return first_look || rows.size() == options_.batch;
  }

  // Lag figures; for a relayed source, the outbox pruned and the stream trimmed below what every
  // group acknowledged. Failures are logged and tried again next time.
  void Housekeeping(Source& s) {
    auto groups = Command({"XINFO", "GROUPS", s.key});
    if (!groups.ok() || groups->type != redis::Reply::Type::kArray) {
      // No stream yet (an error reply) or Redis unreachable.
      return;
    }
    const auto last_generated = StreamLastSeq(s);
    if (!last_generated) return;
    s.last_seq.store(*last_generated, kRelaxed);
    std::map<std::string, std::int64_t> acked;  // group -> every seq up to here acknowledged
    for (const auto& g : groups->elements) {
      const redis::Reply* name = Field(g, "name");
      const redis::Reply* pending = Field(g, "pending");
      const redis::Reply* delivered = Field(g, "last-delivered-id");
      const redis::Reply* lag = Field(g, "lag");
      if (name == nullptr || pending == nullptr || delivered == nullptr) continue;
      const std::int64_t delivered_seq = SeqOf(delivered->str);
      std::int64_t upto = delivered_seq;
      if (pending->integer > 0) {
        auto summary = Command({"XPENDING", s.key, name->str});
        if (!summary.ok() || summary->is_error() || summary->elements.size() < 2) return;
        upto = std::min(upto, SeqOf(summary->elements[1].str) - 1);
      }
      acked[name->str] = upto;
      const std::int64_t undelivered =
          (lag != nullptr && lag->type == redis::Reply::Type::kInteger)
              ? lag->integer
              : std::max<std::int64_t>(0, *last_generated - delivered_seq);
      for (Sub* sub : s.subs) {
        if (sub->delivery == Delivery::kEffect && sub->name == name->str) {
          sub->lag.store(pending->integer + undelivered, kRelaxed);
        }
      }
    }
    std::int64_t cache_min = INT64_MAX;
    for (Sub* sub : s.subs) {
      if (sub->delivery != Delivery::kCacheRefresh) continue;
      const std::int64_t pos = sub->position.load(kRelaxed);
      sub->lag.store(std::max<std::int64_t>(0, *last_generated - pos), kRelaxed);
      cache_min = std::min(cache_min, pos);
    }
    if (s.outbox == nullptr || acked.empty()) return;
    for (const Sub* sub : s.subs) {
      if (sub->delivery == Delivery::kEffect) s.groups_seen.insert(sub->name);
    }
    for (const std::string& seen : s.groups_seen) {
      if (acked.count(seen) == 0) {
        // Redis lost a group (or it was destroyed): until its consumers create it again, we do
        // not know what it still needs.
        return;
      }
    }
    for (const auto& [name, upto] : acked) s.groups_seen.insert(name);
    std::int64_t every_group = INT64_MAX;
    for (const auto& [name, upto] : acked) every_group = std::min(every_group, upto);
    if (every_group > s.pruned) {
      s.outbox->Prune(every_group, [](std::exception_ptr) {});
      s.pruned = every_group;
    }
    const std::int64_t min_id = std::min(every_group, cache_min) + 1 - options_.trim_keep;
    if (min_id > 1) Command({"XTRIM", s.key, "MINID", std::to_string(min_id) + "-0"});
  }

  // ---- consumers ----

  // Hands `entries` (in id order, already owned by `r`) to the subscriber and acknowledges them;
  // false when the bus stopped before the subscriber accepted them (they stay pending).
  bool Deliver(Reader& r, std::vector<Entry>& entries) {
    Sub& sub = *r.sub;
    Source& source = *sub.source;
    std::vector<Event> events;
    std::vector<std::string> ids;  // every entry: the ones not wanted are acknowledged too
    for (Entry& e : entries) {
      ids.push_back(e.id);
      if (e.event && sub.Wants(e.event->topic)) events.push_back(std::move(*e.event));
    }
    Millis backoff{0};
    while (!events.empty()) {
      try {
        const std::size_t count = events.size();
        r.instance->Handle(events);
        source.delivered.fetch_add(count, kRelaxed);
        break;
      } catch (const MalformedEvent& bad) {
        const auto it = std::find_if(events.begin(), events.end(),
                                     [&bad](const Event& e) { return e.id == bad.event_id(); });
        if (it != events.end()) {
          const DeadLetter letter{source.name, sub.name,   it->id,      it->topic,
                                  it->payload, bad.what(), clock_.Now()};
          if (SetAside(r, letter)) {
            events.erase(it);
            continue;
          }
        }
        source.failures.fetch_add(1, kRelaxed);
      } catch (const std::exception& e) {
        source.failures.fetch_add(1, kRelaxed);
        spdlog::debug("events redis: {} failed on {} events: {}", sub.name, events.size(),
                      e.what());
      } catch (...) {
        source.failures.fetch_add(1, kRelaxed);
      }
      backoff = backoff.count() == 0 ? options_.retry_backoff_initial
                                     : std::min(options_.retry_backoff_max, backoff * 2);
      if (!SleepFor(backoff)) return false;
      if (sub.delivery == Delivery::kEffect) KeepOwning(r, ids);
    }
    if (sub.delivery == Delivery::kEffect) Ack(r, ids);
    return true;
  }

  bool SetAside(Reader& r, const DeadLetter& letter) {
    try {
      r.sub->consumer->KeepDeadLetter(letter);
    } catch (const std::exception& e) {
      spdlog::warn("events redis: cannot keep a dead letter of {}: {}", r.sub->name, e.what());
      return false;
    }
    spdlog::error("events redis {}: {} set aside event {} ({}): {}", letter.source,
                  letter.subscriber, letter.event_id, letter.topic, letter.reason);
    r.sub->source->dead_letters.fetch_add(1, kRelaxed);
    r.sub->dead_letters.fetch_add(1, kRelaxed);
    return true;
  }

  // Resets the entries' idle time (no delivery counted) so no other consumer takes them over
  // while this one retries.
  void KeepOwning(Reader& r, const std::vector<std::string>& ids) {
    std::vector<std::string> args = {"XCLAIM", r.sub->source->key, r.sub->name, r.consumer, "0"};
    args.insert(args.end(), ids.begin(), ids.end());
    args.push_back("JUSTID");
    Command(std::move(args));
  }

  void Ack(Reader& r, const std::vector<std::string>& ids) {
    if (ids.empty()) return;
    std::vector<std::string> args = {"XACK", r.sub->source->key, r.sub->name};
    args.insert(args.end(), ids.begin(), ids.end());
    for (int attempt = 0; attempt < 3; ++attempt) {
      auto reply = Command(args);
      // NOGROUP: Redis lost the group and its pending list; a replay is harmless.
      if (reply.ok()) return;
      if (!SleepFor(options_.retry_backoff_initial)) return;
    }
    // Left pending: taken over after claim_idle and delivered again, which the claims absorb.
  }

  // Entries other consumers left pending for longer than claim_idle, now ours; those handed out
  // more than max_deliveries times are set aside instead.
  std::vector<Entry> Reclaim(Reader& r, std::string& cursor) {
    Sub& sub = *r.sub;
    auto reply = Command({"XAUTOCLAIM", sub.source->key, sub.name, r.consumer,
                          std::to_string(options_.claim_idle.count()), cursor, "COUNT",
                          std::to_string(options_.batch)});
    if (!Usable(reply, "XAUTOCLAIM") || reply->elements.size() < 2) {
      if (reply.ok() && reply->IsErrorCode("NOGROUP")) EnsureGroup(sub);
      cursor = "0-0";
      return {};
    }
    cursor = reply->elements[0].str;
    std::vector<Entry> entries = ParseEntries(reply->elements[1], sub.source->name);
    if (entries.empty()) return entries;
    sub.source->reclaimed.fetch_add(entries.size(), kRelaxed);
    return SetAsideOverDelivered(r, std::move(entries));
  }

  // Of `entries` (in id order, pending under `r`'s consumer name, just handed to it by XAUTOCLAIM
  // or read again from its own pending list: either counts a delivery), those handed out more than
  // max_deliveries times without an acknowledgement are set aside as dead letters and
  // acknowledged; returns the others. An entry whose handling kills the process every time thus
  // stops coming back, whether another instance takes it over or the same one restarts under its
  // name.
  std::vector<Entry> SetAsideOverDelivered(Reader& r, std::vector<Entry> entries) {
    if (entries.empty()) return entries;
    Sub& sub = *r.sub;
    auto counts = Command({"XPENDING", sub.source->key, sub.name, entries.front().id,
                           entries.back().id, std::to_string(entries.size()), r.consumer});
    if (!Usable(counts, "XPENDING")) return entries;
    std::map<std::string, long long> deliveries;
    for (const auto& p : counts->elements) {
      if (p.elements.size() >= 4) deliveries[p.elements[0].str] = p.elements[3].integer;
    }
    std::vector<Entry> keep;
    for (Entry& e : entries) {
      const long long n = deliveries.count(e.id) ? deliveries[e.id] : 0;
      if (n <= options_.max_deliveries || !e.event) {
        keep.push_back(std::move(e));
        continue;
      }
      const DeadLetter letter{sub.source->name,
                              sub.name,
                              e.event->id,
                              e.event->topic,
                              e.event->payload,
                              "handed out " + std::to_string(n) +
                                  " times without an acknowledgement (its consumers died or hung)",
                              clock_.Now()};
      if (SetAside(r, letter)) {
        Ack(r, {e.id});
      } else {
        keep.push_back(std::move(e));
      }
    }
    return keep;
  }

  void EffectLoop(Reader& r) {
    Sub& sub = *r.sub;
    const std::string& key = sub.source->key;
    bool own_pending = true;  // first, what this consumer name left pending (a restart)
    std::string cursor = "0-0";
    auto next_claim = SteadyClock::now();
    Millis backoff{0};
    while (!stopping()) {
      std::vector<Entry> entries;
      redis::ReplyResult reply = redis::Reply{};
      if (own_pending) {
        reply = Command({"XREADGROUP", "GROUP", sub.name, r.consumer, "COUNT",
                         std::to_string(options_.batch), "STREAMS", key, "0"});
        if (Usable(reply, "XREADGROUP 0")) {
          entries = ParseRead(*reply, sub.source->name);
          if (entries.empty()) own_pending = false;
          sub.source->reclaimed.fetch_add(entries.size(), kRelaxed);
          entries = SetAsideOverDelivered(r, std::move(entries));
        }
      } else if (SteadyClock::now() >= next_claim) {
        entries = Reclaim(r, cursor);
        if (cursor == "0-0") next_claim = SteadyClock::now() + options_.claim_interval;
        if (entries.empty()) continue;
      } else {
        const Millis until_claim =
            std::chrono::duration_cast<Millis>(next_claim - SteadyClock::now());
        const Millis block = std::max(Millis{1}, std::min(options_.block, until_claim));
        reply = r.blocking->ConnectionForThisThread()
                    .AsyncCommand({"XREADGROUP", "GROUP", sub.name, r.consumer, "COUNT",
                                   std::to_string(options_.batch), "BLOCK",
                                   std::to_string(block.count()), "STREAMS", key, ">"},
                                  block + options_.client.command_timeout, boost::asio::use_future)
                    .get();
        if (Usable(reply, "XREADGROUP")) entries = ParseRead(*reply, sub.source->name);
      }
      if (!reply.ok() || reply->is_error()) {
        if (stopping()) break;
        if (reply.ok() && reply->IsErrorCode("NOGROUP")) {
          if (EnsureGroup(sub)) continue;
        }
        backoff = backoff.count() == 0 ? options_.retry_backoff_initial
                                       : std::min(options_.retry_backoff_max, backoff * 2);
        if (!SleepFor(backoff)) break;
        continue;
      }
      backoff = Millis{0};
      if (!entries.empty() && !Deliver(r, entries)) break;
    }
  }

  void CacheLoop(Reader& r) {
    Sub& sub = *r.sub;
    Millis backoff{0};
    while (!stopping()) {
      const std::string from = std::to_string(sub.position.load(kRelaxed)) + "-0";
      auto reply =
          r.blocking->ConnectionForThisThread()
              .AsyncCommand(
                  {"XREAD", "COUNT", std::to_string(options_.batch), "BLOCK",
                   std::to_string(options_.block.count()), "STREAMS", sub.source->key, from},
                  options_.block + options_.client.command_timeout, boost::asio::use_future)
              .get();
      if (!Usable(reply, "XREAD")) {
        if (stopping()) break;
        backoff = backoff.count() == 0 ? options_.retry_backoff_initial
                                       : std::min(options_.retry_backoff_max, backoff * 2);
        if (!SleepFor(backoff)) break;
        continue;
      }
      backoff = Millis{0};
      std::vector<Entry> entries = ParseRead(*reply, sub.source->name);
      if (entries.empty()) continue;
      const std::int64_t last = entries.back().seq;
      if (!Deliver(r, entries)) break;
      sub.position.store(last, kRelaxed);
    }
  }

  const redis::Endpoint endpoint_;
  const Clock& clock_;
  Options options_;
  redis::IoThread io_;
  redis::Client client_;  // every command but the blocking reads
  std::vector<std::unique_ptr<Source>> sources_;
  std::vector<ConsumerStore*> consumers_;
  std::vector<std::unique_ptr<Sub>> subs_;
  std::vector<std::unique_ptr<Reader>> readers_;
  std::atomic<bool> started_{false};
  std::atomic<bool> stopped_{false};
  std::mutex stop_mu_;
  mutable std::mutex sleep_mu_;
  std::condition_variable sleep_cv_;
  bool stopping_ = false;
};

RedisStreamsEventBus::RedisStreamsEventBus(redis::Endpoint endpoint, const Clock& clock,
                                           Options options)
    : impl_(std::make_unique<Impl>(std::move(endpoint), clock, std::move(options))) {}

RedisStreamsEventBus::~RedisStreamsEventBus() {
  Stop();
}

void RedisStreamsEventBus::AddProducer(OutboxSource& outbox) {
  impl_->AddSource(outbox.service(), &outbox);
}

void RedisStreamsEventBus::AddSource(std::string source) {
  impl_->AddSource(std::move(source), nullptr);
}

void RedisStreamsEventBus::AddConsumer(ConsumerStore& store) {
  impl_->AddConsumer(store);
}

void RedisStreamsEventBus::Subscribe(Subscription subscription) {
  impl_->Subscribe(std::move(subscription));
}

void RedisStreamsEventBus::Start() {
  impl_->Start();
}

void RedisStreamsEventBus::Stop() {
  impl_->Stop();
}

DeliveryStats RedisStreamsEventBus::Stats(std::string_view source) const {
  return impl_->Stats(source);
}

std::vector<DeadLetter> RedisStreamsEventBus::DeadLetters(std::string_view consumer) const {
  return impl_->DeadLetters(consumer);
}

std::int64_t RedisStreamsEventBus::Lag(std::string_view source, std::string_view subscriber) const {
  return impl_->Lag(source, subscriber);
}

std::uint64_t RedisStreamsEventBus::DeadLettered(std::string_view source,
                                                 std::string_view subscriber) const {
  return impl_->DeadLettered(source, subscriber);
}

std::uint64_t RedisStreamsEventBus::Reclaimed(std::string_view source) const {
  const Source* s = FindSource(source);
  return s ? s->reclaimed.load(kRelaxed) : 0;
}

std::uint64_t RedisStreamsEventBus::Republished(std::string_view source) const {
  const Source* s = FindSource(source);
  return s ? s->republished.load(kRelaxed) : 0;
}

RedisStreamsEventBus::Source* RedisStreamsEventBus::FindSource(std::string_view name) const {
  return impl_->Find(name);
}

}  // namespace rocketmart::events::redis_streams
