#include "infra/storage/read_connections.hpp"

#include <atomic>
#include <utility>

namespace rocketmart::storage {
namespace {

std::atomic<std::uint64_t> next_id{1};

struct ThreadEntry {
  std::uint64_t owner;
  Database* db;
};

// Looked up without any lock on the hot path. Entries of destroyed owners are never matched again
// (ids are unique) and cost two words each, so they are left in place.
thread_local std::vector<ThreadEntry> tls_connections;

OpenOptions ReadOnly(OpenOptions options) {
  options.read_only = true;
  return options;
}

}  // namespace

ReadConnections::ReadConnections(OpenOptions options)
    : options_(ReadOnly(std::move(options))), id_(next_id.fetch_add(1)) {}

ReadConnections::~ReadConnections() = default;

Database& ReadConnections::ForThisThread() {
  for (const ThreadEntry& entry : tls_connections) {
    if (entry.owner == id_) return *entry.db;
  }
  auto db = std::make_unique<Database>(options_);
  Database* raw = db.get();
  {
    std::lock_guard lock(mu_);
    connections_.push_back(std::move(db));
  }
  tls_connections.push_back(ThreadEntry{id_, raw});
  return *raw;
}

std::size_t ReadConnections::OpenCount() const {
  std::lock_guard lock(mu_);
  return connections_.size();
}

}  // namespace rocketmart::storage
