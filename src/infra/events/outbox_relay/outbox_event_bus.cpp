#include "infra/events/outbox_relay/outbox_event_bus.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <utility>

#include "core/thread_name.hpp"

namespace rocketmart::events {
namespace {

constexpr std::memory_order kRelaxed = std::memory_order_relaxed;

}  // namespace

struct OutboxEventBus::Store {
  std::string service;
  OutboxSource* outbox = nullptr;
  ConsumerStore* consumer = nullptr;
};

// Delivers one source's outbox to its subscriptions.
class OutboxEventBus::Relay {
 public:
  Relay(Store& source, const Clock& clock, const Options& options)
      : source_(source), clock_(clock), options_(options) {}
  ~Relay() { Stop(); }

  const std::string& source() const { return source_.service; }

  void Add(Subscription s, Store& consumer) {
    const std::string name(s.subscriber->Name());
    for (auto& existing : subs_) {
      if (existing->name != name) continue;
      // Instances of one effect share its position: each batch goes to one of them.
      const bool same_effect = existing->delivery == Delivery::kEffect &&
                               s.delivery == Delivery::kEffect && existing->consumer == &consumer &&
                               existing->topics == s.topics;
      if (!same_effect || std::find(existing->instances.begin(), existing->instances.end(),
                                    s.subscriber) != existing->instances.end()) {
        // Two subscriptions sharing a position would each make the other skip events.
        throw std::invalid_argument("event bus: subscriber name " + name + " already used on " +
                                    source_.service);
      }
      existing->instances.push_back(s.subscriber);
      return;
    }
    auto sub = std::make_unique<Sub>();
    sub->name = name;
    sub->delivery = s.delivery;
    sub->consumer = &consumer;
    sub->topics = std::move(s.topics);
    sub->instances.push_back(s.subscriber);
    subs_.push_back(std::move(sub));
    loaded_ = false;
  }

  // Carries over what an older version kept in the producer's database, then loads positions.
  void Load() {
    // Effects before cache refreshes in every round: in one process a cache then never runs ahead
    // of the effect that writes what it describes.
    std::stable_partition(subs_.begin(), subs_.end(), [](const std::unique_ptr<Sub>& s) {
      return s->delivery == Delivery::kEffect;
    });
    for (auto& sub : subs_) {
      const std::int64_t stored = sub->consumer->consumer->LoadPosition(source_.service, sub->name);
      sub->cursor.store(stored, kRelaxed);
      sub->stored.store(stored, kRelaxed);
    }
    head_seq_.store(source_.outbox->Head(), kRelaxed);
    loaded_ = true;
  }

  void Start() {
    std::lock_guard stop_lock(stop_mu_);
    if (!loaded_) Load();  // On the caller's thread so an unusable database fails loudly here.
    // Registered without holding mu_: the source may call Notify() (which takes mu_) while holding
    // its listener lock, so taking them in the other order here could deadlock.
    listener_id_ = source_.outbox->Watch([this] { Notify(); });
    std::lock_guard lock(mu_);
    thread_ = std::thread([this] {
      NameThisThread("relay:" + source_.service);
      Run();
    });
  }

  void Stop() {
    std::lock_guard stop_lock(stop_mu_);
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    stop_requested_.store(true);
    cv_.notify_all();
    if (listener_id_ != 0) {
      source_.outbox->Unwatch(listener_id_);
      listener_id_ = 0;
    }
    if (thread_.joinable()) thread_.join();
    // A clean stop stores every position handed over (a write still queued may have made the
    // last round skip one), so nothing is delivered again after a restart. And queued writes'
    // callbacks use this relay.
    WaitForWrites();
    if (loaded_) {
      StorePositions();
      WaitForWrites();
    }
  }

  void Notify() {
    {
      std::lock_guard lock(mu_);
      notified_ = true;
    }
    cv_.notify_one();
  }

  bool DeliverOnceForTest() {
    if (!loaded_) Load();
    const bool advanced = DeliverRound(/*honor_backoff=*/false).advanced;
    // What a running relay does over its next rounds: positions stored, then the outbox pruned.
    WaitForWrites();
    Prune();
    WaitForWrites();
    return advanced;
  }

  DeliveryStats Stats() const {
    DeliveryStats stats{delivered_.load(kRelaxed), failures_.load(kRelaxed),
                        dead_letters_.load(kRelaxed), 0};
    for (const auto& sub : subs_) stats.backlog = std::max(stats.backlog, LagOf(*sub));
    return stats;
  }

  std::vector<std::string> SubscriberNames() const {
    std::vector<std::string> names;
    for (const auto& sub : subs_) names.push_back(sub->name);
    return names;
  }

  std::int64_t Position(std::string_view name) const {
    const Sub* sub = Find(name);
    return sub ? sub->cursor.load(kRelaxed) : -1;
  }
  std::int64_t Lag(std::string_view name) const {
    const Sub* sub = Find(name);
    return sub ? LagOf(*sub) : -1;
  }

 private:
  using SteadyTime = std::chrono::steady_clock::time_point;

  struct Sub {
    std::string name;
    Delivery delivery = Delivery::kEffect;
    Store* consumer = nullptr;
    std::vector<std::string> topics;
    std::vector<EventSubscriber*> instances;
    std::atomic<std::int64_t> cursor{0};  // handed over up to here: the next batch starts after it
    std::atomic<std::int64_t> stored{0};  // committed in the consumer's database up to here
    std::atomic<bool> storing{false};     // a write of the position is queued
    // Relay-thread only.
    std::size_t turn = 0;
    Millis backoff{0};
    SteadyTime next_attempt{};
  };

  struct RoundResult {
    bool advanced = false;
    SteadyTime earliest_retry = SteadyTime::max();
  };

  const Sub* Find(std::string_view name) const {
    for (const auto& sub : subs_) {
      if (sub->name == name) return sub.get();
    }
    return nullptr;
  }
  std::int64_t LagOf(const Sub& sub) const {
    return std::max<std::int64_t>(0, head_seq_.load(kRelaxed) - sub.cursor.load(kRelaxed));
  }

  void Run() {
    std::unique_lock lock(mu_);
    while (!stopping_) {
      // Cleared before the round: a commit during the round sets it again and we go round again.
      notified_ = false;
      lock.unlock();
      RoundResult round = DeliverRound(/*honor_backoff=*/true);
      lock.lock();
      if (stopping_) break;
      if (round.advanced || notified_) continue;  // A full batch likely means more is waiting.
      SteadyTime deadline = std::chrono::steady_clock::now() + options_.poll_interval;
      deadline = std::min(deadline, round.earliest_retry);
      cv_.wait_until(lock, deadline, [this] { return stopping_ || notified_; });
    }
  }

  RoundResult DeliverRound(bool honor_backoff) {
    RoundResult result;
    try {
      head_seq_.store(source_.outbox->Head(), kRelaxed);
    } catch (...) {
      // Only the lag figures depend on it; delivery below reports real read failures.
    }
    for (auto& sub : subs_) {
      if (stop_requested_.load()) break;
      if (honor_backoff && std::chrono::steady_clock::now() < sub->next_attempt) {
        result.earliest_retry = std::min(result.earliest_retry, sub->next_attempt);
        continue;
      }
      try {
        if (DeliverTo(*sub)) result.advanced = true;
      } catch (...) {
        RecordFailure(*sub);
        result.earliest_retry = std::min(result.earliest_retry, sub->next_attempt);
      }
    }
    StorePositions();
    Prune();
    return result;
  }

  // Reads the subscription's next batch and hands it over; false when there was nothing new.
  bool DeliverTo(Sub& sub) {
    const std::int64_t cursor = sub.cursor.load(kRelaxed);
    std::vector<Event> events;
    std::int64_t last_seq = cursor;
    for (OutboxRow& row : source_.outbox->ReadAfter(cursor, options_.batch)) {
      last_seq = row.seq;
      if (std::find(sub.topics.begin(), sub.topics.end(), row.topic) == sub.topics.end()) continue;
      events.push_back(Event{source_.service + ":" + std::to_string(row.seq), std::move(row.topic),
                             std::move(row.payload), row.created_at});
    }
    if (last_seq == cursor) return false;
    // Events of other topics are passed over too, so they never hold this position (or pruning)
    // back.
    const std::size_t count = events.size();
    if (!events.empty()) HandleSettingAsideMalformed(sub, events);
    sub.cursor.store(last_seq, kRelaxed);
    delivered_.fetch_add(count, kRelaxed);
    sub.backoff = Millis{0};
    sub.next_attempt = SteadyTime{};
    return true;
  }

  // Hands `events` to one instance, setting aside each event it reports as malformed.
  void HandleSettingAsideMalformed(Sub& sub, std::vector<Event>& events) {
    EventSubscriber* instance = sub.instances[sub.turn++ % sub.instances.size()];
    while (!events.empty()) {
      try {
        instance->Handle(events);
        return;
      } catch (const MalformedEvent& bad) {
        const auto it = std::find_if(events.begin(), events.end(),
                                     [&bad](const Event& e) { return e.id == bad.event_id(); });
        if (it == events.end()) throw;  // Names no event of this batch: a failure like any other.
        const DeadLetter letter{source_.service, sub.name,   it->id,      it->topic,
                                it->payload,     bad.what(), clock_.Now()};
        sub.consumer->consumer->KeepDeadLetter(letter);
        spdlog::error("events {}: {} set aside event {} ({}): {}", source_.service, sub.name,
                      letter.event_id, letter.topic, letter.reason);
        dead_letters_.fetch_add(1, kRelaxed);
        events.erase(it);
      }
    }
  }

  // Hands every position handed over but not stored yet to its consumer's store: one write per
  // consumer, not waited for (SQLite commits it with the consumer's next transaction, so
  // acknowledging costs no fsync of its own under load). Until it is durable a crash means
  // redelivery (at least once), and pruning waits for it.
  void StorePositions() {
    std::vector<const Store*> done;
    for (const auto& first : subs_) {
      const Store* consumer = first->consumer;
      if (std::find(done.begin(), done.end(), consumer) != done.end()) continue;
      done.push_back(consumer);
      std::vector<std::pair<Sub*, std::int64_t>> writes;
      for (const auto& sub : subs_) {
        const std::int64_t cursor = sub->cursor.load(kRelaxed);
        if (sub->consumer == consumer && cursor > sub->stored.load(kRelaxed) &&
            !sub->storing.load()) {
          writes.emplace_back(sub.get(), cursor);
        }
      }
      if (writes.empty()) continue;
      for (const auto& [sub, cursor] : writes) sub->storing.store(true);
      BeginWrite();
      ConsumerStore::Positions positions;
      for (const auto& [sub, cursor] : writes) positions.emplace_back(sub->name, cursor);
      auto stored = [this, writes](std::exception_ptr failure) {
        for (const auto& [sub, cursor] : writes) {
          // A failed write is tried again next round (the position is still ahead of `stored`).
          if (!failure && cursor > sub->stored.load(kRelaxed)) sub->stored.store(cursor, kRelaxed);
          sub->storing.store(false);
        }
        EndWrite();
      };
      if (!consumer->consumer->StorePositions(source_.service, std::move(positions),
                                              std::move(stored))) {
        for (const auto& [sub, cursor] : writes) sub->storing.store(false);
        EndWrite();  // A full queue: tried again next round.
      }
    }
  }

  // Rows every subscription has passed, as stored in its consumer's store, are needed by no one.
  // Handed to the source like the positions, not waited for.
  void Prune() {
    if (subs_.empty()) return;
    std::int64_t upto = INT64_MAX;
    for (const auto& sub : subs_) upto = std::min(upto, sub->stored.load(kRelaxed));
    if (upto <= pruned_upto_.load(kRelaxed) || pruning_.exchange(true)) return;
    BeginWrite();
    source_.outbox->Prune(upto, [this, upto](std::exception_ptr failure) {
      if (!failure) pruned_upto_.store(upto, kRelaxed);  // else: tried again next round
      pruning_.store(false);
      EndWrite();
    });
  }

  void BeginWrite() {
    std::lock_guard lock(writes_mu_);
    ++writes_pending_;
  }
  void EndWrite() {
    // Notified under the lock: a waiter that sees zero may destroy this relay at once.
    std::lock_guard lock(writes_mu_);
    --writes_pending_;
    writes_cv_.notify_all();
  }
  // Until every queued position and prune has been committed or has failed. The writers must be
  // running (the bus stops before them).
  void WaitForWrites() {
    std::unique_lock lock(writes_mu_);
    writes_cv_.wait(lock, [this] { return writes_pending_ == 0; });
  }

  void RecordFailure(Sub& sub) {
    failures_.fetch_add(1, kRelaxed);
    sub.backoff = sub.backoff.count() == 0 ? options_.retry_backoff_initial
                                           : std::min(options_.retry_backoff_max, sub.backoff * 2);
    sub.next_attempt = std::chrono::steady_clock::now() + sub.backoff;
  }

  Store& source_;
  const Clock& clock_;
  const Options& options_;
  std::vector<std::unique_ptr<Sub>> subs_;
  bool loaded_ = false;
  std::atomic<std::int64_t> pruned_upto_{0};
  std::atomic<bool> pruning_{false};
  std::mutex writes_mu_;
  std::condition_variable writes_cv_;
  int writes_pending_ = 0;
  std::atomic<std::int64_t> head_seq_{0};
  std::atomic<bool> stop_requested_{false};

  std::mutex stop_mu_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool notified_ = false;
  std::thread thread_;
  std::uint64_t listener_id_ = 0;

  std::atomic<std::uint64_t> delivered_{0};
  std::atomic<std::uint64_t> failures_{0};
  std::atomic<std::uint64_t> dead_letters_{0};
};

OutboxEventBus::OutboxEventBus(const Clock& clock, Options options)
    : clock_(clock), options_(options) {
  if (options_.batch == 0) throw std::invalid_argument("OutboxEventBus: batch must be positive");
}

OutboxEventBus::~OutboxEventBus() {
  Stop();
}

void OutboxEventBus::AddService(OutboxSource& outbox, ConsumerStore& store) {
  std::string service = outbox.service();
  if (store.service() != service) {
    throw std::invalid_argument("OutboxEventBus: outbox of " + service + " and store of " +
                                store.service() + " are not one service");
  }
  if (started_) throw std::logic_error("OutboxEventBus::AddService after Start()");
  if (FindStore(service) != nullptr) {
    throw std::invalid_argument("OutboxEventBus: service " + service + " added twice");
  }
  stores_.push_back(std::make_unique<Store>(Store{std::move(service), &outbox, &store}));
  relays_.push_back(std::make_unique<Relay>(*stores_.back(), clock_, options_));
}

void OutboxEventBus::Subscribe(Subscription subscription) {
  if (started_) throw std::logic_error("OutboxEventBus::Subscribe after Start()");
  if (subscription.subscriber == nullptr) {
    throw std::invalid_argument("OutboxEventBus::Subscribe: null subscriber");
  }
  if (subscription.topics.empty()) {
    throw std::invalid_argument("OutboxEventBus::Subscribe: no topic");
  }
  Relay* relay = FindRelay(subscription.source);
  Store* consumer = FindStore(subscription.consumer);
  if (relay == nullptr || consumer == nullptr) {
    throw std::invalid_argument("OutboxEventBus::Subscribe: unknown service " +
                                (relay == nullptr ? subscription.source : subscription.consumer));
  }
  relay->Add(std::move(subscription), *consumer);
}

void OutboxEventBus::Start() {
  if (stopped_) throw std::logic_error("OutboxEventBus: Start() after Stop()");
  if (started_.exchange(true)) return;
  for (auto& relay : relays_) relay->Start();
}

void OutboxEventBus::Stop() {
  stopped_ = true;
  for (auto& relay : relays_) relay->Stop();
}

DeliveryStats OutboxEventBus::Stats(std::string_view source) const {
  const Relay* relay = FindRelay(source);
  return relay ? relay->Stats() : DeliveryStats{};
}

std::vector<DeadLetter> OutboxEventBus::DeadLetters(std::string_view consumer) const {
  const Store* store = FindStore(consumer);
  if (store == nullptr) return {};
  return store->consumer->DeadLetters();
}

std::vector<std::string> OutboxEventBus::SubscriberNames(std::string_view source) const {
  const Relay* relay = FindRelay(source);
  return relay ? relay->SubscriberNames() : std::vector<std::string>{};
}

bool OutboxEventBus::DeliverOnceForTest(std::string_view source) {
  if (started_) throw std::logic_error("OutboxEventBus::DeliverOnceForTest while started");
  Relay* relay = FindRelay(source);
  if (relay == nullptr) throw std::invalid_argument("OutboxEventBus: unknown source");
  return relay->DeliverOnceForTest();
}

std::int64_t OutboxEventBus::Position(std::string_view source, std::string_view subscriber) const {
  const Relay* relay = FindRelay(source);
  return relay ? relay->Position(subscriber) : -1;
}

std::int64_t OutboxEventBus::Lag(std::string_view source, std::string_view subscriber) const {
  const Relay* relay = FindRelay(source);
  return relay ? relay->Lag(subscriber) : -1;
}

OutboxEventBus::Store* OutboxEventBus::FindStore(std::string_view service) const {
  for (const auto& store : stores_) {
    if (store->service == service) return store.get();
  }
  return nullptr;
}

OutboxEventBus::Relay* OutboxEventBus::FindRelay(std::string_view source) const {
  for (const auto& relay : relays_) {
    if (relay->source() == source) return relay.get();
  }
  return nullptr;
}

}  // namespace rocketmart::events
