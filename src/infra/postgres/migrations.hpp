// Versioned schema migrations for a PostgreSQL database, applied at start.
//
// Each component (a service's store, the event outbox) numbers its migrations from 1; the table
// schema_migrations (component, version, name, applied_at) records what was applied. Migrate
// holds a session advisory lock keyed by the component while it reads and applies them, so two
// instances starting together migrate once: the second waits, then finds nothing left to do. Each
// migration commits with its record, or not at all. A database that has a version this binary
// does not know (a newer binary migrated it) is refused rather than used.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <span>
#include <string_view>

#include "core/result.hpp"
#include "infra/postgres/connection.hpp"

namespace rocketmart::postgres {

struct Migration {
  int version;
  std::string_view name;
  std::string_view sql;
};

boost::asio::awaitable<Status> Migrate(Connection& connection, std::string_view component,
                                       std::span<const Migration> migrations);

}  // namespace rocketmart::postgres
