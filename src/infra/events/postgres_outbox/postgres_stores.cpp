#include "infra/events/postgres_outbox/postgres_stores.hpp"

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <utility>

#include "infra/async/run.hpp"

namespace rocketmart::events::postgres_outbox {
namespace {

// One statement on a pooled connection, on the calling thread; throws when it fails (the bus
// counts a failure and retries after its backoff).
postgres::Rows Run(postgres::Pool& pool, std::string_view sql, postgres::Params params) {
  Result<postgres::Rows> rows = async::RunToCompletion(pool.Query(sql, std::move(params)));
  if (!rows.ok()) {
    throw std::runtime_error("event outbox on PostgreSQL: " + rows.error().message);
  }
  return std::move(rows).value();
}

}  // namespace

PostgresOutboxSource::PostgresOutboxSource(std::string service, postgres::PoolSettings pool)
    : service_(std::move(service)),
      pool_(std::move(pool)),
      commits_(postgres::OutboxCommits::For(pool_.settings().connect.conninfo)) {}

namespace {

// SafeHorizon's looks at a fresh horizon's running transactions before it is left pending: at
// most kSettleLooks x kSettlePause of the relay thread per round.
constexpr int kSettleLooks = 10;
constexpr std::chrono::milliseconds kSettlePause{2};

}  // namespace

std::int64_t PostgresOutboxSource::SafeHorizon() {
  std::lock_guard lock(mu_);
  // Ended for every later snapshot: absent from the running set of a snapshot taken now (not
  // pg_xact_status: the commit log says "committed" a moment before the server takes the
  // transaction out of its running set, when a read does not see its rows yet).
  auto ended = [this](const Horizon& h) {
    const postgres::Rows r =
        Run(pool_,
            "SELECT NOT EXISTS (SELECT 1 FROM pg_snapshot_xip($1::pg_snapshot) AS x "
            "WHERE NOT pg_visible_in_snapshot(x, pg_current_snapshot()))",
            postgres::MakeParams(h.snapshot));
    return r.Bool(0, 0);
  };
  if (pending_) {
    if (!ended(*pending_)) return safe_;  // kept: a newer horizon would wait as long
    safe_ = std::max(safe_, pending_->seq);
    pending_.reset();
  }
  // pg_sequence_last_value (what the pg_sequences view reads), never `SELECT last_value FROM
  // outbox_seq_seq`: a scan reads the sequence's page under a pin only, and every 32nd nextval
  // writes its WAL record with last_value set 32 ahead (the values it pre-logs) before it puts
  // the real one back. A scan that lands in that moment reads a seq nobody has drawn yet; the
  // horizon then covered seqs drawn after the relay's transaction id, and the relay moved past
  // rows still uncommitted (EveryCommittedRowIsReadOnceWhileWritersCommitConcurrently, about 1 run
  // in 30). The function reads the page under the buffer lock nextval holds for its whole change.
  const postgres::Rows head =
      Run(pool_, "SELECT coalesce(pg_sequence_last_value('outbox_seq_seq'::regclass), 0)", {});
  const std::int64_t h = head.Int64(0, 0);
  if (h <= safe_) return safe_;  // nothing new: no transaction id spent on an idle look
  // H, then a transaction id of our own, committed before the snapshot: every transaction that
  // drew a seq <= H took its id before ours (Append takes it first), and a snapshot taken after
  // ours ended lists every still-running id below ours. (A snapshot's own bound is the newest
  // *completed* id + 1: a transaction running with a newer id than that is in no list, and the
  // relay moved past its row: EveryCommittedRowIsReadOnceWhileWritersCommitConcurrently.)
  Run(pool_, "SELECT pg_current_xact_id()", {});
  const postgres::Rows snapshot = Run(pool_, "SELECT pg_current_snapshot()::text", {});
  const Horizon fresh{h, std::string(snapshot.Text(0, 0))};
  // A transaction running at the snapshot, in any database of the server (ids are server-wide),
  // holds the rows back; no commit of ours tells when it ends. Most last a few milliseconds: look
  // again a few times before leaving it to the next look (the bus polls every 200 ms).
  for (int look = 0; look < kSettleLooks; ++look) {
    if (ended(fresh)) {
      safe_ = fresh.seq;
      return safe_;
    }
    std::this_thread::sleep_for(kSettlePause);
  }
  pending_ = fresh;
  return safe_;
}

std::vector<OutboxRow> PostgresOutboxSource::ReadAfter(std::int64_t after, std::size_t limit) {
  const std::int64_t horizon = SafeHorizon();
  std::vector<OutboxRow> out;
  if (horizon <= after) return out;
  const postgres::Rows rows =
      Run(pool_,
          "SELECT seq, topic, payload, created_at_ms FROM outbox "
          "WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3",
          postgres::MakeParams(after, horizon, static_cast<std::int64_t>(limit)));
  out.reserve(static_cast<std::size_t>(rows.size()));
  for (int i = 0; i < rows.size(); ++i) {
    out.push_back({rows.Int64(i, 0), std::string(rows.Text(i, 1)), std::string(rows.Text(i, 2)),
                   FromUnixMillis(rows.Int64(i, 3))});
  }
  return out;
}

void PostgresOutboxSource::Prune(std::int64_t upto, std::function<void(std::exception_ptr)> done) {
  std::exception_ptr failure;
  try {
    Run(pool_, "DELETE FROM outbox WHERE seq <= $1", postgres::MakeParams(upto));
  } catch (...) {
    failure = std::current_exception();  // left for a later call
  }
  done(failure);
}

std::uint64_t PostgresOutboxSource::Watch(std::function<void()> wake) {
  return commits_->Listen(std::move(wake));
}

void PostgresOutboxSource::Unwatch(std::uint64_t id) {
  commits_->Unlisten(id);
}

PostgresConsumerStore::PostgresConsumerStore(std::string service, postgres::PoolSettings pool)
    : service_(std::move(service)), pool_(std::move(pool)) {}

void PostgresConsumerStore::KeepDeadLetter(const DeadLetter& l) {
  Run(pool_,
      "INSERT INTO event_dead_letters "
      "(source, subscriber, event_id, topic, payload, reason, at_ms) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
      postgres::MakeParams(l.source, l.subscriber, l.event_id, l.topic, l.payload, l.reason,
                           ToUnixMillis(l.at)));
}

std::vector<DeadLetter> PostgresConsumerStore::DeadLetters() {
  const postgres::Rows rows = Run(pool_,
                                  "SELECT source, subscriber, event_id, topic, payload, reason, "
                                  "at_ms FROM event_dead_letters ORDER BY at_ms, id",
                                  {});
  std::vector<DeadLetter> out;
  for (int i = 0; i < rows.size(); ++i) {
    out.push_back({std::string(rows.Text(i, 0)), std::string(rows.Text(i, 1)),
                   std::string(rows.Text(i, 2)), std::string(rows.Text(i, 3)),
                   std::string(rows.Text(i, 4)), std::string(rows.Text(i, 5)),
                   FromUnixMillis(rows.Int64(i, 6))});
  }
  return out;
}

std::int64_t PostgresConsumerStore::LoadPosition(const std::string& source,
                                                 const std::string& subscriber) {
  const postgres::Rows rows =
      Run(pool_, "SELECT last_seq FROM event_cursors WHERE source = $1 AND subscriber = $2",
          postgres::MakeParams(source, subscriber));
  return rows.empty() ? 0 : rows.Int64(0, 0);
}

bool PostgresConsumerStore::StorePositions(const std::string& source, Positions positions,
                                           std::function<void(std::exception_ptr)> done) {
  std::exception_ptr failure;
  try {
    // One statement for all of them: unnest of two arrays, in PostgreSQL's array text form.
    std::string names = "{";
    std::string seqs = "{";
    for (std::size_t i = 0; i < positions.size(); ++i) {
      if (i > 0) {
        names += ',';
        seqs += ',';
      }
      names += '"';
      for (char ch : positions[i].first) {
        if (ch == '"' || ch == '\\') names += '\\';
        names += ch;
      }
      names += '"';
      seqs += std::to_string(positions[i].second);
    }
    names += '}';
    seqs += '}';
    Run(pool_,
        "INSERT INTO event_cursors (source, subscriber, last_seq) "
        "SELECT $1, s, q FROM unnest($2::text[], $3::bigint[]) AS p (s, q) "
        "ON CONFLICT (source, subscriber) "
        "DO UPDATE SET last_seq = GREATEST(event_cursors.last_seq, excluded.last_seq)",
        postgres::MakeParams(source, names, seqs));
  } catch (...) {
    failure = std::current_exception();
  }
  done(failure);
  return true;
}

}  // namespace rocketmart::events::postgres_outbox
