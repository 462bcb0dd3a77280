#include "infra/events/sqlite_outbox/outbox.hpp"

#include <charconv>
#include <optional>
#include <string>

namespace rocketmart::events::sqlite_outbox {
namespace {

using storage::Database;
using storage::Statement;

struct SourceSeq {
  std::string_view source;
  std::int64_t seq = 0;
};

// "<source>:<seq>" as this bus writes ids; nullopt for any other shape (a test's or another bus's).
std::optional<SourceSeq> ParseEventId(std::string_view id) {
  const std::size_t colon = id.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == id.size()) return std::nullopt;
  const std::string_view digits = id.substr(colon + 1);
  std::int64_t seq = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), seq);
  if (ec != std::errc() || end != digits.data() + digits.size() || seq <= 0) return std::nullopt;
  return SourceSeq{id.substr(0, colon), seq};
}

bool TableExists(Database& db, std::string_view table) {
  Statement& s = db.Cached("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1");
  s.BindText(1, table);
  const bool found = s.Step();
  s.Reset();
  return found;
}

// Rows of (source, subscriber, event_id, topic, payload, reason, at_ms); ?1 is bound to `source`.
std::vector<DeadLetter> ReadLetters(Database& db, std::string_view sql, std::string_view source) {
  std::vector<DeadLetter> letters;
  Statement s = db.Prepare(std::string(sql));
  if (!source.empty()) s.BindText(1, source);
  while (s.Step()) {
    letters.push_back({s.Text(0), s.Text(1), s.Text(2), s.Text(3), s.Text(4), s.Text(5),
                       FromUnixMillis(s.Int64(6))});
  }
  return letters;
}

}  // namespace

std::int64_t Append(Database& db, std::string_view topic, std::string_view payload, TimePoint now) {
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
  if (db.Changes() != 1) return false;
  if (const auto at = ParseEventId(event_id)) {
    // The position moves with the effect: after a crash the relay resumes past this event.
    Statement& advance = db.Cached(
        "INSERT INTO event_cursors (source, subscriber, last_seq) VALUES (?1, ?2, ?3) "
        "ON CONFLICT (source, subscriber) DO UPDATE SET last_seq = MAX(last_seq, "
        "excluded.last_seq)");
    advance.BindText(1, at->source).BindText(2, consumer).BindInt64(3, at->seq);
    advance.Step();
  }
  return true;
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

void KeepDeadLetter(Database& db, const DeadLetter& l) {
  Statement& keep = db.Cached(
      "INSERT OR IGNORE INTO event_dead_letters "
      "(source, subscriber, event_id, topic, payload, reason, at_ms) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
  keep.BindText(1, l.source)
      .BindText(2, l.subscriber)
      .BindText(3, l.event_id)
      .BindText(4, l.topic)
      .BindText(5, l.payload)
      .BindText(6, l.reason)
      .BindInt64(7, ToUnixMillis(l.at));
  keep.Step();
}

std::vector<DeadLetter> ReadDeadLetters(Database& db) {
  if (!TableExists(db, "event_dead_letters")) return {};
  return ReadLetters(db,
                     "SELECT source, subscriber, event_id, topic, payload, reason, at_ms "
                     "FROM event_dead_letters ORDER BY at_ms, subscriber, event_id",
                     {});
}

std::vector<DeadLetter> ReadLegacyDeadLetters(Database& db, std::string_view source) {
  if (!TableExists(db, "outbox_dead_letters")) return {};
  return ReadLetters(db,
                     "SELECT ?1, subscriber, event_id, topic, payload, reason, at_ms "
                     "FROM outbox_dead_letters ORDER BY at_ms, subscriber, event_id",
                     source);
}

}  // namespace rocketmart::events::sqlite_outbox
