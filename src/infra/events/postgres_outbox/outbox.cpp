#include "infra/events/postgres_outbox/outbox.hpp"

#include <charconv>
#include <string>
#include <system_error>

#include "infra/postgres/migrations.hpp"

namespace rocketmart::events::postgres_outbox {

namespace {

constexpr postgres::Migration kMigrations[] = {
    {1, "outbox, claims, cursors, dead letters", R"sql(
      CREATE TABLE outbox (
        seq           bigserial PRIMARY KEY,
        topic         text   NOT NULL,
        payload       text   NOT NULL,
        created_at_ms bigint NOT NULL
      );
      CREATE TABLE processed_events (
        consumer        text   NOT NULL,
        event_id        text   NOT NULL,
        processed_at_ms bigint NOT NULL,
        PRIMARY KEY (consumer, event_id)
      );
      CREATE INDEX processed_events_by_age ON processed_events (processed_at_ms);
      CREATE TABLE event_cursors (
        source     text   NOT NULL,
        subscriber text   NOT NULL,
        last_seq   bigint NOT NULL,
        PRIMARY KEY (source, subscriber)
      );
      CREATE TABLE event_dead_letters (
        id         bigserial PRIMARY KEY,
        source     text   NOT NULL,
        subscriber text   NOT NULL,
        event_id   text   NOT NULL,
        topic      text   NOT NULL,
        payload    text   NOT NULL,
        reason     text   NOT NULL,
        at_ms      bigint NOT NULL
      );
    )sql"},
    {2, "a dead letter kept once per subscriber and event", R"sql(
      CREATE UNIQUE INDEX event_dead_letters_once
        ON event_dead_letters (source, subscriber, event_id);
    )sql"},
};

// The transaction id is assigned (pg_current_xact_id) before the seq is drawn (the default of the
// row the CTE yields): the relay's horizon relies on it (postgres_stores.hpp).
constexpr std::string_view kAppend =
    "WITH tx AS (SELECT pg_current_xact_id() AS id) "
    "INSERT INTO outbox (topic, payload, created_at_ms) SELECT $1::text, $2::text, $3::bigint FROM "
    "tx RETURNING seq";

postgres::Params AppendParams(std::string_view topic, std::string_view payload, TimePoint now) {
  postgres::Params p;
  p.Add(topic).Add(payload).Add(ToUnixMillis(now));
  return p;
}

}  // namespace

boost::asio::awaitable<Status> Migrate(postgres::Connection& connection) {
  co_return co_await postgres::Migrate(connection, "events", kMigrations);
}

boost::asio::awaitable<Result<std::int64_t>> Append(postgres::Connection& connection,
                                                    std::string_view topic,
                                                    std::string_view payload, TimePoint now) {
  connection.MarkOutboxAppend();  // the relay here reads it as soon as it commits
  auto rows = co_await connection.Query(kAppend, AppendParams(topic, payload, now));
  if (!rows.ok()) co_return std::move(rows).error();
  co_return rows->Int64(0, 0);
}

postgres::Statement AppendStatement(std::string_view topic, std::string_view payload,
                                    TimePoint now) {
  return {std::string(kAppend), AppendParams(topic, payload, now), /*appends_outbox=*/true};
}

boost::asio::awaitable<Result<bool>> ClaimEvent(postgres::Connection& connection,
                                                std::string_view consumer,
                                                std::string_view event_id, TimePoint now) {
  // The event's source and seq ("<source>:<seq>"): the consumer's position on that source moves
  // past the event with the claim, so after a crash the relay resumes past it. An id of another
  // shape claims without moving a position (seq 0).
  std::string_view source;
  std::int64_t seq = 0;
  if (const auto colon = event_id.rfind(':'); colon != std::string_view::npos) {
    const std::string_view digits = event_id.substr(colon + 1);
    std::int64_t parsed = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), parsed);
    if (ec == std::errc() && end == digits.data() + digits.size() && parsed > 0) {
      source = event_id.substr(0, colon);
      seq = parsed;
    }
  }
  postgres::Params p;
  p.Add(consumer).Add(event_id).Add(ToUnixMillis(now)).Add(source).Add(seq);
  // One statement (one round trip): the claim, and the position only when the claim is new.
  auto rows = co_await connection.Query(
      "WITH claimed AS (INSERT INTO processed_events (consumer, event_id, processed_at_ms) "
      "VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING 1), "
      "advanced AS (INSERT INTO event_cursors (source, subscriber, last_seq) "
      "SELECT $4::text, $1::text, $5::bigint FROM claimed WHERE $5::bigint > 0 "
      "ON CONFLICT (source, subscriber) "
      "DO UPDATE SET last_seq = GREATEST(event_cursors.last_seq, excluded.last_seq)) "
      "SELECT count(*) FROM claimed",
      std::move(p));
  if (!rows.ok()) co_return std::move(rows).error();
  co_return rows->Int64(0, 0) == 1;
}

boost::asio::awaitable<Result<std::vector<Event>>> ReadOutbox(postgres::Connection& connection,
                                                              std::string_view source,
                                                              std::int64_t after_seq,
                                                              std::int64_t limit) {
  auto params = postgres::MakeParams(after_seq, limit);
  auto rows = co_await connection.Query(
      "SELECT seq, topic, payload, created_at_ms FROM outbox WHERE seq > $1 ORDER BY seq LIMIT $2",
      std::move(params));
  if (!rows.ok()) co_return std::move(rows).error();
  std::vector<Event> out;
  out.reserve(static_cast<std::size_t>(rows->size()));
  for (int i = 0; i < rows->size(); ++i) {
    out.push_back(Event{std::string(source) + ":" + std::string(rows->Text(i, 0)),
                        std::string(rows->Text(i, 1)), std::string(rows->Text(i, 2)),
                        FromUnixMillis(rows->Int64(i, 3))});
  }
  co_return out;
}

}  // namespace rocketmart::events::postgres_outbox
