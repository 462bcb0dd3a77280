// The PostgreSQL side of the event port, first part: the tables of a producer's transactional
// outbox and of a consumer's claims, positions and dead letters (the same shape as
// sqlite_outbox/outbox.hpp, in the service's own PostgreSQL database), and the calls a store makes
// inside its own transaction: Append (the producer) and ClaimEvent (an effect consumer).
//
// The relay reads the outbox through PostgresOutboxSource (postgres_stores.hpp), which never moves
// past a seq that may still commit (several writers: seq order is not commit order). ReadOutbox is
// a plain read in seq order, for tools and tests, not for a relay.
//
// Tables, created by Migrate(connection) (component "events"):
//   outbox             seq, topic, payload, created_at_ms
//   processed_events   consumer, event_id, processed_at_ms: the claims
//   event_cursors      source, subscriber, last_seq
//   event_dead_letters source, subscriber, event_id, topic, payload, reason, at_ms
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "infra/events/event_bus.hpp"
#include "infra/postgres/connection.hpp"

namespace rocketmart::events::postgres_outbox {

// Creates (or brings up to date) the event tables of this database. Call at start, before the
// store's own migrations.
boost::asio::awaitable<Status> Migrate(postgres::Connection& connection);

// Appends an event to the producer's outbox inside the caller's open transaction; returns its
// seq (the event's id is "<producer>:<seq>").
boost::asio::awaitable<Result<std::int64_t>> Append(postgres::Connection& connection,
                                                    std::string_view topic,
                                                    std::string_view payload, TimePoint now);

// The same as one pipelined statement (for a store that batches its statements).
postgres::Statement AppendStatement(std::string_view topic, std::string_view payload,
                                    TimePoint now);

// Records, inside the caller's open transaction, that `consumer` (an effect subscriber's name)
// processed `event_id`; false when it already had (then the caller applies no effect). A new claim
// also moves the consumer's position on the event's source past it, in the same transaction (one
// statement), so after a crash the relay resumes past the effects that committed. Two instances
// claiming the same event concurrently: the second waits for the first's transaction and then sees
// the claim.
boost::asio::awaitable<Result<bool>> ClaimEvent(postgres::Connection& connection,
                                                std::string_view consumer,
                                                std::string_view event_id, TimePoint now);

// The committed outbox rows after `after_seq`, in seq order, at most `limit`, as events of
// `source` (id "<source>:<seq>"). A row whose transaction has not committed yet is not seen, and
// may later appear below a seq already read: a relay must account for that before it moves past.
boost::asio::awaitable<Result<std::vector<Event>>> ReadOutbox(postgres::Connection& connection,
                                                              std::string_view source,
                                                              std::int64_t after_seq,
                                                              std::int64_t limit);

}  // namespace rocketmart::events::postgres_outbox
