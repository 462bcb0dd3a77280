#include "infra/storage/outbox.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "core/thread_name.hpp"

namespace rocketmart::storage {
namespace {

constexpr std::string_view kReadBatchSql =
    "SELECT seq, topic, payload, created_at_ms FROM outbox WHERE seq > ?1 ORDER BY seq LIMIT ?2";
// sqlite_sequence holds the highest seq ever handed out, even after pruning emptied the table.
constexpr std::string_view kHeadSql = "SELECT seq FROM sqlite_sequence WHERE name = 'outbox'";

}  // namespace

std::int64_t AppendOutbox(Database& db, std::string_view topic, std::string_view payload,
                          TimePoint now) {
  Statement& insert = db.Cached(
      "INSERT INTO outbox (topic, payload, created_at_ms) VALUES (?1, ?2, ?3) RETURNING seq");
  insert.BindText(1, topic).BindText(2, payload).BindInt64(3, ToUnixMillis(now));
  insert.Step();
  std::int64_t seq = insert.Int64(0);
  insert.Reset();
  return seq;
}

bool ClaimEvent(Database& db, std::string_view consumer, std::string_view event_id, TimePoint now) {
  Statement& insert = db.Cached(
      "INSERT OR IGNORE INTO processed_events (consumer, event_id, processed_at_ms) "
      "VALUES (?1, ?2, ?3)");
  insert.BindText(1, consumer).BindText(2, event_id).BindInt64(3, ToUnixMillis(now));
  insert.Step();
  return db.Changes() == 1;
}

std::int64_t PruneProcessedEvents(Database& db, TimePoint before, std::int64_t limit) {
  // Oldest first through processed_events_by_age, so a bounded batch never scans the table.
  Statement& del = db.Cached(
      "DELETE FROM processed_events WHERE (consumer, event_id) IN ("
      "  SELECT consumer, event_id FROM processed_events WHERE processed_at_ms < ?1"
      "  ORDER BY processed_at_ms LIMIT ?2)");
  del.BindInt64(1, ToUnixMillis(before)).BindInt64(2, limit);
  del.Step();
  return db.Changes();
}

EventSubscriber::~EventSubscriber() = default;

OutboxRelay::OutboxRelay(std::string source, GroupCommitWriter& writer, ReadConnections& readers,
                         const Clock& clock, Options options)
    : source_(std::move(source)),
      writer_(writer),
      readers_(readers),
      clock_(clock),
      options_(options) {
  if (options_.batch == 0) throw std::invalid_argument("OutboxRelay: batch must be positive");
}

OutboxRelay::~OutboxRelay() {
  Stop();
}

void OutboxRelay::Subscribe(std::string topic_or_star, EventSubscriber* subscriber) {
  if (subscriber == nullptr) throw std::invalid_argument("OutboxRelay::Subscribe: null subscriber");
  {
    std::lock_guard lock(mu_);
    if (started_) throw std::logic_error("OutboxRelay::Subscribe after Start()");
  }
  Subscription* sub = nullptr;
  for (auto& existing : subscriptions_) {
    if (existing->subscriber == subscriber) {
      sub = existing.get();
    } else if (existing->name == subscriber->Name()) {
      // Two subscribers sharing a cursor would each make the other skip events.
      throw std::invalid_argument("OutboxRelay: duplicate subscriber name " + existing->name);
    }
  }
  if (sub == nullptr) {
    subscriptions_.push_back(std::make_unique<Subscription>());
    sub = subscriptions_.back().get();
    sub->subscriber = subscriber;
    sub->name = std::string(subscriber->Name());
  }
  if (topic_or_star == "*") {
    sub->all_topics = true;
  } else {
    sub->topics.push_back(std::move(topic_or_star));
  }
  cursors_loaded_ = false;
}

void OutboxRelay::LoadCursors() {
  Database& db = readers_.ForThisThread();
  Statement& select = db.Cached("SELECT last_seq FROM outbox_cursor WHERE subscriber = ?1");
  for (auto& sub : subscriptions_) {
    select.BindText(1, sub->name);
    sub->cursor.store(select.Step() ? select.Int64(0) : 0, kRelaxed);
    select.Reset();
  }
  Statement& head = db.Cached(kHeadSql);
  head_seq_.store(head.Step() ? head.Int64(0) : 0, kRelaxed);
  head.Reset();
  cursors_loaded_ = true;
}

void OutboxRelay::Start() {
  std::lock_guard stop_lock(stop_mu_);
  {
    std::lock_guard lock(mu_);
    if (stopping_) throw std::logic_error("OutboxRelay: Start() after Stop()");
    if (started_) return;
  }
  LoadCursors();  // On the caller's thread so an unmigrated database fails loudly here.
  // Registered without holding mu_: the writer calls Notify() (which takes mu_) while holding its
  // listener lock, so taking them in the other order here could deadlock.
  listener_id_ = writer_.AddCommitListener([this] { Notify(); });
  std::lock_guard lock(mu_);
  started_ = true;
  thread_ = std::thread([this] {
    NameThisThread("relay:" + source_);
    Run();
  });
}

void OutboxRelay::Stop() {
  std::lock_guard stop_lock(stop_mu_);
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  stop_requested_.store(true);
  cv_.notify_all();
  if (listener_id_ != 0) {
    writer_.RemoveCommitListener(listener_id_);
    listener_id_ = 0;
  }
  if (thread_.joinable()) thread_.join();
}

void OutboxRelay::Notify() {
  {
    std::lock_guard lock(mu_);
    notified_ = true;
  }
  cv_.notify_one();
}

bool OutboxRelay::DeliverOnceForTest() {
  {
    std::lock_guard lock(mu_);
    if (started_) throw std::logic_error("OutboxRelay::DeliverOnceForTest while started");
  }
  if (!cursors_loaded_) LoadCursors();
  return DeliverRound(/*honor_backoff=*/false).advanced;
}

std::int64_t OutboxRelay::Lag(std::string_view subscriber) const {
  for (const auto& sub : subscriptions_) {
    if (sub->name == subscriber) {
      return std::max<std::int64_t>(0, head_seq_.load(kRelaxed) - sub->cursor.load(kRelaxed));
    }
  }
  return -1;
}

std::int64_t OutboxRelay::Backlog() const {
  std::int64_t backlog = 0;
  for (const auto& sub : subscriptions_) {
    backlog = std::max(backlog, head_seq_.load(kRelaxed) - sub->cursor.load(kRelaxed));
  }
  return backlog;
}

std::int64_t OutboxRelay::Cursor(std::string_view subscriber) const {
  for (const auto& sub : subscriptions_) {
    if (sub->name == subscriber) return sub->cursor.load(kRelaxed);
  }
  return -1;
}

void OutboxRelay::Run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    // Cleared before the round: a commit during the round sets it again and we go round once more.
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

OutboxRelay::RoundResult OutboxRelay::DeliverRound(bool honor_backoff) {
  RoundResult result;
  try {
    Database& db = readers_.ForThisThread();
    Statement& head = db.Cached(kHeadSql);
    head_seq_.store(head.Step() ? head.Int64(0) : 0, kRelaxed);
    head.Reset();
  } catch (...) {
    // Only the lag metric depends on it; delivery below reports real read failures.
  }
  for (auto& sub : subscriptions_) {
    if (stop_requested_.load()) break;
    if (honor_backoff && std::chrono::steady_clock::now() < sub->next_attempt) {
      result.earliest_retry = std::min(result.earliest_retry, sub->next_attempt);
      continue;
    }
    if (DeliverTo(*sub)) {
      result.advanced = true;
    } else if (sub->backoff.count() > 0) {
      result.earliest_retry = std::min(result.earliest_retry, sub->next_attempt);
    }
  }
  return result;
}

bool OutboxRelay::DeliverTo(Subscription& sub) {
  const std::int64_t cursor = sub.cursor.load(kRelaxed);
  std::vector<Event> events;
  std::int64_t last_seq = cursor;
  try {
    Database& db = readers_.ForThisThread();
    Statement& select = db.Cached(kReadBatchSql);
    select.BindInt64(1, cursor).BindInt64(2, static_cast<std::int64_t>(options_.batch));
    while (select.Step()) {
      last_seq = select.Int64(0);
      std::string_view topic = select.TextView(1);
      bool wanted = sub.all_topics ||
                    std::find(sub.topics.begin(), sub.topics.end(), topic) != sub.topics.end();
      if (!wanted) continue;
      events.push_back(Event{source_ + ":" + std::to_string(last_seq), std::string(topic),
                             select.Text(2), FromUnixMillis(select.Int64(3))});
    }
    select.Reset();
    if (last_seq == cursor) return false;  // Nothing new.
    // Events of other topics are passed over too, so they never hold this cursor (or pruning) back.
    if (!events.empty()) HandleSettingAsideMalformed(sub, events);
    AdvanceCursor(sub, last_seq);
  } catch (...) {
    RecordFailure(sub);
    return false;
  }
  delivered_.fetch_add(events.size(), kRelaxed);
  sub.backoff = Millis{0};
  sub.next_attempt = SteadyTime{};
  return true;
}

std::vector<DeadLetter> ReadDeadLetters(Database& db) {
  std::vector<DeadLetter> letters;
  Statement s = db.Prepare(
      "SELECT subscriber, event_id, topic, payload, reason, at_ms FROM outbox_dead_letters "
      "ORDER BY at_ms, subscriber, event_id");
  while (s.Step()) {
    letters.push_back(
        {s.Text(0), s.Text(1), s.Text(2), s.Text(3), s.Text(4), FromUnixMillis(s.Int64(5))});
  }
  return letters;
}

void OutboxRelay::HandleSettingAsideMalformed(Subscription& sub, std::vector<Event>& events) {
  while (!events.empty()) {
    try {
      sub.subscriber->Handle(events);
      return;
    } catch (const MalformedEvent& bad) {
      const auto it = std::find_if(events.begin(), events.end(),
                                   [&bad](const Event& e) { return e.id == bad.event_id(); });
      if (it == events.end()) throw;  // Names no event of this batch: a failure like any other.
      const std::string reason = bad.what();
      const TimePoint now = clock_.Now();
      writer_.RunSync([&](Database& db) {
        Statement& keep = db.Cached(
            "INSERT OR IGNORE INTO outbox_dead_letters "
            "(subscriber, event_id, topic, payload, reason, at_ms) VALUES (?, ?, ?, ?, ?, ?)");
        keep.BindText(1, sub.name)
            .BindText(2, it->id)
            .BindText(3, it->topic)
            .BindText(4, it->payload)
            .BindText(5, reason)
            .BindInt64(6, ToUnixMillis(now));
        keep.Step();
      });
      spdlog::error("outbox {}: {} set aside event {} ({}): {}", source_, sub.name, it->id,
                    it->topic, reason);
      dead_letters_.fetch_add(1, kRelaxed);
      events.erase(it);
    }
  }
}

void OutboxRelay::AdvanceCursor(Subscription& sub, std::int64_t new_cursor) {
  // Rows every registered subscriber has passed are no longer needed by anyone.
  std::int64_t prune_upto = new_cursor;
  for (const auto& other : subscriptions_) {
    if (other.get() != &sub) prune_upto = std::min(prune_upto, other->cursor.load(kRelaxed));
  }
  writer_.RunSync([&](Database& db) {
    Statement& upsert = db.Cached(
        "INSERT INTO outbox_cursor (subscriber, last_seq) VALUES (?1, ?2) "
        "ON CONFLICT (subscriber) DO UPDATE SET last_seq = MAX(last_seq, excluded.last_seq)");
    upsert.BindText(1, sub.name).BindInt64(2, new_cursor);
    upsert.Step();
    Statement& prune = db.Cached("DELETE FROM outbox WHERE seq <= ?1");
    prune.BindInt64(1, prune_upto);
    prune.Step();
  });
  sub.cursor.store(new_cursor, kRelaxed);
}

void OutboxRelay::RecordFailure(Subscription& sub) {
  failures_.fetch_add(1, kRelaxed);
  sub.backoff = sub.backoff.count() == 0 ? options_.retry_backoff_initial
                                         : std::min(options_.retry_backoff_max, sub.backoff * 2);
  sub.next_attempt = std::chrono::steady_clock::now() + sub.backoff;
}

}  // namespace rocketmart::storage
