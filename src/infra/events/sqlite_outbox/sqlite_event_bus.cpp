#include "infra/events/sqlite_outbox/sqlite_event_bus.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "infra/events/sqlite_outbox/outbox.hpp"

namespace rocketmart::events::sqlite_outbox {
namespace {

using storage::Database;
using storage::Statement;

constexpr std::string_view kAdvanceSql =
    "INSERT INTO event_cursors (source, subscriber, last_seq) VALUES (?1, ?2, ?3) "
    "ON CONFLICT (source, subscriber) DO UPDATE SET last_seq = MAX(last_seq, excluded.last_seq)";

}  // namespace

SqliteEventBus::SqliteEventBus(const Clock& clock, Options options) : bus_(clock, options) {}

SqliteEventBus::~SqliteEventBus() {
  Stop();
}

void SqliteEventBus::AddService(std::string service, storage::GroupCommitWriter& writer,
                                storage::ReadConnections& readers) {
  if (Find(service) != nullptr) {
    throw std::invalid_argument("SqliteEventBus: service " + service + " added twice");
  }
  auto s = std::make_unique<Service>();
  s->name = service;
  s->writer = &writer;
  s->readers = &readers;
  s->outbox = std::make_unique<SqliteOutboxSource>(service, writer, readers);
  s->store = std::make_unique<SqliteConsumerStore>(service, writer, readers);
  bus_.AddService(*s->outbox, *s->store);
  services_.push_back(std::move(s));
}

void SqliteEventBus::AddService(OutboxSource& outbox, ConsumerStore& store) {
  bus_.AddService(outbox, store);  // refuses a service added twice
}

void SqliteEventBus::Subscribe(Subscription subscription) {
  SubscriptionNames key{
      subscription.source,
      subscription.subscriber ? std::string(subscription.subscriber->Name()) : std::string(),
      subscription.consumer};
  bus_.Subscribe(std::move(subscription));
  if (std::find(subscriptions_.begin(), subscriptions_.end(), key) == subscriptions_.end()) {
    subscriptions_.push_back(std::move(key));
  }
}

void SqliteEventBus::Start() {
  CarryOverOnce();
  bus_.Start();
}

void SqliteEventBus::Stop() {
  bus_.Stop();
}

DeliveryStats SqliteEventBus::Stats(std::string_view source) const {
  return bus_.Stats(source);
}

std::vector<DeadLetter> SqliteEventBus::DeadLetters(std::string_view consumer) const {
  return bus_.DeadLetters(consumer);
}

bool SqliteEventBus::DeliverOnceForTest(std::string_view source) {
  CarryOverOnce();
  return bus_.DeliverOnceForTest(source);
}

std::int64_t SqliteEventBus::Position(std::string_view source, std::string_view subscriber) const {
  return bus_.Position(source, subscriber);
}

std::int64_t SqliteEventBus::Lag(std::string_view source, std::string_view subscriber) const {
  return bus_.Lag(source, subscriber);
}

const SqliteEventBus::Service* SqliteEventBus::Find(std::string_view name) const {
  for (const auto& s : services_) {
    if (s->name == name) return s.get();
  }
  return nullptr;
}

// Moves what an older version kept in a producer's database (outbox_cursor,
// outbox_dead_letters) to the consumer of each subscription.
void SqliteEventBus::CarryOverOnce() {
  if (carried_over_) return;
  carried_over_ = true;
  for (const SubscriptionNames& subscription : subscriptions_) {
    const std::string& source_name = subscription.source;
    const std::string& name = subscription.subscriber;
    const std::string& consumer_name = subscription.consumer;
    const Service* source = Find(source_name);
    const Service* consumer = Find(consumer_name);
    if (source == nullptr || consumer == nullptr) continue;  // Subscribe refused it
    Database& src = source->readers->ForThisThread();
    std::int64_t legacy_cursor = -1;
    {
      Statement& s = src.Cached("SELECT last_seq FROM outbox_cursor WHERE subscriber = ?1");
      s.BindText(1, name);
      if (s.Step()) legacy_cursor = s.Int64(0);
      s.Reset();
    }
    std::vector<DeadLetter> letters;
    {
      Statement& s = src.Cached(
          "SELECT event_id, topic, payload, reason, at_ms FROM outbox_dead_letters "
          "WHERE subscriber = ?1");
      s.BindText(1, name);
      while (s.Step()) {
        letters.push_back({source_name, name, s.Text(0), s.Text(1), s.Text(2), s.Text(3),
                           FromUnixMillis(s.Int64(4))});
      }
      s.Reset();
    }
    if (legacy_cursor < 0 && letters.empty()) continue;
    // Consumer first: if the process dies between the two commits, the next start finds the rows
    // in both places and the consumer keeps the larger position.
    consumer->writer->RunSync([&](Database& db) {
      if (legacy_cursor >= 0) {
        db.Cached(kAdvanceSql)
            .BindText(1, source_name)
            .BindText(2, name)
            .BindInt64(3, legacy_cursor)
            .Step();
      }
      for (const DeadLetter& l : letters) KeepDeadLetter(db, l);
    });
    source->writer->RunSync([&](Database& db) {
      db.Cached("DELETE FROM outbox_cursor WHERE subscriber = ?1").BindText(1, name).Step();
      db.Cached("DELETE FROM outbox_dead_letters WHERE subscriber = ?1").BindText(1, name).Step();
    });
    spdlog::info("events: {} on {}: position {} and {} dead letters moved to {}.db", name,
                 source_name, legacy_cursor, letters.size(), consumer_name);
  }
}

}  // namespace rocketmart::events::sqlite_outbox
