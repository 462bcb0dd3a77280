// The SQLite side of the event port: the transactional outbox a producer appends to, the claims
// an effect consumer records, and the consumer-side tables that keep positions and dead letters.
//
// A producing store calls Append() inside the writer job that makes the change, so both commit or
// neither does; SqliteEventBus relays the rows to subscribers. An effect consumer calls
// ClaimEvent() inside the writer job that applies the effect: the claim, the effect and the
// consumer's position on the event's source commit together, so a crash after the effect never
// redelivers it, and a redelivery for any other reason (another instance, a failed batch) changes
// nothing.
//
// Tables (every service database has them; created by storage::Migrate's internal migrations):
//   outbox (producer)               seq, topic, payload, created_at_ms
//   processed_events (consumer)     consumer, event_id: the claims
//   event_cursors (consumer)        source, subscriber, last_seq: how far a subscriber got
//   event_dead_letters (consumer)   what a subscriber set aside as malformed
// Before issue 12 positions and dead letters were kept in the producer's database (outbox_cursor,
// outbox_dead_letters); SqliteEventBus::Start carries them over to the consumer once.
//
// Thread-safety: every function uses the Database it is given (a writer job's, or a reader's).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "infra/events/event_bus.hpp"
#include "infra/storage/sqlite.hpp"

namespace rocketmart::events::sqlite_outbox {

// Appends an event to the producer's outbox; returns its seq (the event's id is
// "<producer>:<seq>"). Call only inside a writer job of the producer's database.
std::int64_t Append(storage::Database& db, std::string_view topic, std::string_view payload,
                    TimePoint now);

// Records that `consumer` (an effect subscriber's name) processed `event_id`; false when it already
// had. Call inside the same writer job as the effect so the effect and the claim commit together;
// the consumer's position on the event's source moves past the event in the same transaction.
bool ClaimEvent(storage::Database& db, std::string_view consumer, std::string_view event_id,
                TimePoint now);

// Forgets up to `limit` claims older than `before`, oldest first; returns how many. Safe once the
// producer can no longer redeliver them (its outbox was pruned past them).
std::int64_t PruneProcessedEvents(storage::Database& db, TimePoint before,
                                  std::int64_t limit = INT64_MAX);

// Keeps a dead letter in the consumer's database (a second one for the same subscriber and event id
// is ignored). Call inside a writer job of the consumer's database.
void KeepDeadLetter(storage::Database& db, const DeadLetter& letter);

// The dead letters a consumer's database keeps, oldest first. Works on a read-only connection (an
// operator can look while the server runs) and on a database not migrated yet (none).
std::vector<DeadLetter> ReadDeadLetters(storage::Database& db);

// Dead letters still in the old place, a producer's database (`source` names it), that no server
// of this version has carried over to their consumer yet. Read-only, like ReadDeadLetters.
std::vector<DeadLetter> ReadLegacyDeadLetters(storage::Database& db, std::string_view source);

}  // namespace rocketmart::events::sqlite_outbox
