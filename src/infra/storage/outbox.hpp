// Transactional outbox, its in-process at-least-once relay, and idempotent-consumer claims.
//
// A service appends events with AppendOutbox() inside the same writer job as the state change, so
// both commit or neither does. One OutboxRelay per source database reads new events on its own
// thread and hands them to subscribers in seq order; a subscriber's cursor (stored in the source
// database) advances only after its Handle() returned, so a crash or failure means redelivery,
// never loss. Consumers make redelivery harmless with ClaimEvent() in the job that applies the
// effect. Thread-safety: AppendOutbox/ClaimEvent use the Database they are given (the writer
// job's); OutboxRelay's public methods are thread-safe except Subscribe (before Start only).
// Ownership: the relay borrows the writer, readers, clock and subscribers; all must outlive it,
// and the relay must be stopped before the writer.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/clock.hpp"
#include "infra/storage/group_commit_writer.hpp"
#include "infra/storage/read_connections.hpp"
#include "infra/storage/sqlite.hpp"

namespace rocketmart::storage {

// Returns the event's seq. Call only inside a writer job (the tables come from Migrate()).
std::int64_t AppendOutbox(Database& db, std::string_view topic, std::string_view payload,
                          TimePoint now);

// Records that `consumer` processed `event_id`; false when it already had. Call inside the same
// writer job as the effect so the effect and the claim commit together.
bool ClaimEvent(Database& db, std::string_view consumer, std::string_view event_id, TimePoint now);

// Forgets up to `limit` claims older than `before`, oldest first; returns how many. Safe once the
// producer can no longer redeliver them (its outbox was pruned past them).
std::int64_t PruneProcessedEvents(Database& db, TimePoint before, std::int64_t limit = INT64_MAX);

struct Event {
  std::string id;  // "<source>:<seq>", globally unique; the key for ClaimEvent.
  std::string topic;
  std::string payload;
  TimePoint created_at;
};

// Thrown by a subscriber for an event it can never process (a payload it cannot decode, a
// shape it does not know). The relay sets that event aside in `outbox_dead_letters` (producer's
// database, with the payload and the reason, for an operator to inspect and replay) and hands
// the subscriber the rest of the batch again; effects it already applied for other events must
// be idempotent, as for any redelivery. Never for infrastructure trouble: that is any other
// exception, and the batch is retried.
class MalformedEvent : public std::runtime_error {
 public:
  MalformedEvent(std::string event_id, const std::string& reason)
      : std::runtime_error(reason), event_id_(std::move(event_id)) {}
  const std::string& event_id() const noexcept { return event_id_; }

 private:
  std::string event_id_;
};

// One event a relay set aside (see MalformedEvent).
struct DeadLetter {
  std::string subscriber;
  std::string event_id;
  std::string topic;
  std::string payload;
  std::string reason;
  TimePoint at;
};

// The dead letters kept in `db` (a producer's database), oldest first. Works on a read-only
// connection, so an operator can look while the server runs.
std::vector<DeadLetter> ReadDeadLetters(Database& db);

class EventSubscriber {
 public:
  virtual ~EventSubscriber();
  // Stable across restarts: it keys the subscriber's cursor.
  virtual std::string_view Name() const = 0;
  // Runs on the relay thread and may block. Must be idempotent: a batch is redelivered after a
  // throw or a crash before the cursor advanced. Throw MalformedEvent for an event that can never
  // be processed; throw anything else to have the same batch retried after a backoff. No event
  // is ever skipped silently.
  virtual void Handle(std::span<const Event> batch) = 0;
};

struct OutboxRelayOptions {
  std::size_t batch = 1000;
  Millis poll_interval{200};
  Millis retry_backoff_initial{50};
  Millis retry_backoff_max{5000};
};

class OutboxRelay {
 public:
  using Options = OutboxRelayOptions;

  OutboxRelay(std::string source, GroupCommitWriter& writer, ReadConnections& readers,
              const Clock& clock, Options options = {});
  ~OutboxRelay();
  OutboxRelay(const OutboxRelay&) = delete;
  OutboxRelay& operator=(const OutboxRelay&) = delete;

  // "*" matches every topic. A subscriber may subscribe to several topics. Before Start() only.
  // Every subscriber of this source must be registered: rows all of them passed are pruned.
  void Subscribe(std::string topic_or_star, EventSubscriber* subscriber);
  // Loads the cursors (throws if the database is not migrated), registers Notify() as a commit
  // listener of the writer and starts the relay thread.
  void Start();
  // Finishes the subscriber call in progress (if any) and joins. Idempotent.
  void Stop();
  // Wakes the relay thread; cheap and safe from any thread, including the writer's.
  void Notify();

  // One synchronous delivery round on the calling thread, ignoring backoff; only when not started.
  // Returns true when some subscriber's cursor advanced. Failures are counted, not thrown.
  bool DeliverOnceForTest();

  std::uint64_t EventsDelivered() const noexcept { return delivered_.load(kRelaxed); }
  std::uint64_t DeliveryFailures() const noexcept { return failures_.load(kRelaxed); }
  // Events set aside as malformed (see MalformedEvent) since start.
  std::uint64_t DeadLetters() const noexcept { return dead_letters_.load(kRelaxed); }
  // Events appended but not yet passed by the subscriber's cursor, as of the relay's last look;
  // -1 for an unknown subscriber.
  std::int64_t Lag(std::string_view subscriber) const;
  // The largest Lag over every subscriber (the slowest one's backlog); 0 without subscribers.
  std::int64_t Backlog() const;
  // Cursor of a subscriber as known by the relay, -1 for an unknown one.
  std::int64_t Cursor(std::string_view subscriber) const;

 private:
  static constexpr std::memory_order kRelaxed = std::memory_order_relaxed;
  using SteadyTime = std::chrono::steady_clock::time_point;

  struct Subscription {
    EventSubscriber* subscriber = nullptr;
    std::string name;
    bool all_topics = false;
    std::vector<std::string> topics;
    std::atomic<std::int64_t> cursor{0};
    // Relay-thread only.
    Millis backoff{0};
    SteadyTime next_attempt{};
  };

  struct RoundResult {
    bool advanced = false;
    SteadyTime earliest_retry = SteadyTime::max();
  };

  void Run();
  void LoadCursors();
  RoundResult DeliverRound(bool honor_backoff);
  // Returns true when the cursor advanced.
  bool DeliverTo(Subscription& sub);
  // Hands `events` to the subscriber, setting aside each one it reports as malformed.
  void HandleSettingAsideMalformed(Subscription& sub, std::vector<Event>& events);
  void AdvanceCursor(Subscription& sub, std::int64_t new_cursor);
  void RecordFailure(Subscription& sub);

  const std::string source_;
  GroupCommitWriter& writer_;
  ReadConnections& readers_;
  const Clock& clock_;
  const Options options_;

  std::vector<std::unique_ptr<Subscription>> subscriptions_;
  bool cursors_loaded_ = false;
  std::atomic<std::int64_t> head_seq_{0};
  std::atomic<bool> stop_requested_{false};

  std::mutex stop_mu_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool started_ = false;
  bool stopping_ = false;
  bool notified_ = false;
  std::thread thread_;
  GroupCommitWriter::ListenerId listener_id_ = 0;

  std::atomic<std::uint64_t> delivered_{0};
  std::atomic<std::uint64_t> failures_{0};
  std::atomic<std::uint64_t> dead_letters_{0};
};

}  // namespace rocketmart::storage
