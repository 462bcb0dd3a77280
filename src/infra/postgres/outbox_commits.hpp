// Commits that appended to a database's transactional outbox, announced inside this process, so
// the outbox's relay here (events::PostgresOutboxSource::Watch) reads them at once instead of at
// its next poll (every 200 ms): the delay of every event a process publishes on PostgreSQL, e.g.
// a product another catalog instance learns of, a stock figure the catalog shows, an order.
//
// A store marks its transaction (Connection::MarkOutboxAppend, or a Statement with
// `appends_outbox`); the connection announces it when that transaction committed. Keyed by the
// connection string: every pool of this process on one database shares one announcer. Commits of
// other processes are not announced here (PostgreSQL's NOTIFY would do that, but it serializes
// the commits of every notifying transaction on a global lock: the purchase path's batches would
// queue on it). They are found by the poll, and each process relays its own commits anyway.
//
// Thread-safety: every method from any thread. A listener runs on the committing thread and must
// be quick (wake a thread, post a task).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string_view>
#include <utility>
#include <vector>

namespace rocketmart::postgres {

class OutboxCommits {
 public:
  // The announcer of the database `conninfo` names (created on first use, kept for the process).
  static std::shared_ptr<OutboxCommits> For(std::string_view conninfo);

  std::uint64_t Listen(std::function<void()> listener);
  void Unlisten(std::uint64_t id);
  // A transaction that appended to the outbox committed.
  void Announce();

 private:
  std::mutex mutex_;
  std::uint64_t next_id_ = 1;
  std::vector<std::pair<std::uint64_t, std::function<void()>>> listeners_;
};

}  // namespace rocketmart::postgres
