// Per-thread read-only connections to one SQLite database.
//
// WAL lets any number of readers run beside the single writer, but a SQLite connection is used by
// one thread at a time (NOMUTEX), so each reading thread lazily gets its own connection and keeps
// reusing it. Thread-safety: ForThisThread() may be called from any thread; the returned Database
// must only be used by the calling thread. Ownership: this object owns every connection it opened
// and closes them when destroyed, so it must outlive all use of them (stop the reading threads
// first). Open the writer (and run Migrate) before the first read: a reader needs the file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "infra/storage/sqlite.hpp"

namespace rocketmart::storage {

class ReadConnections {
 public:
  explicit ReadConnections(OpenOptions options);  // read_only is forced on.
  ~ReadConnections();
  ReadConnections(const ReadConnections&) = delete;
  ReadConnections& operator=(const ReadConnections&) = delete;

  // The calling thread's connection, opened on first use. Outside a transaction each statement
  // reads the latest committed snapshot, but a statement abandoned mid-iteration pins its snapshot
  // for the whole connection: Reset() it (Database::Cached does so on the next fetch).
  Database& ForThisThread();

  std::size_t OpenCount() const;

 private:
  const OpenOptions options_;
  // Unique per object (never reused, unlike addresses), so a thread's cached pointer can never
  // match a different, later ReadConnections.
  const std::uint64_t id_;
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Database>> connections_;
};

}  // namespace rocketmart::storage
