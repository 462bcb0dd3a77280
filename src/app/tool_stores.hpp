// What the command-line tools (`token`, `admin create`, `admin dead-letters`) read and write, on
// whichever engine each service's [<service>.database] url names: the same database the server
// uses, never a SQLite file nobody reads when the service runs on PostgreSQL.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "infra/config/config.hpp"
#include "infra/events/event_bus.hpp"
#include "services/members/ports/member_repository.hpp"

namespace rocketmart::app {

// Where the members database is, for messages: <data_dir>/members.db or the PostgreSQL URL.
std::string MembersDatabaseName(const config::Config& config);

// Member `id` from the members database (read-only on SQLite, safe while the server runs); nullopt
// when there is no such member (or, on SQLite, no members.db yet). Throws std::runtime_error
// when the database cannot be read.
std::optional<members::MemberRecord> ReadMember(const config::Config& config, std::int64_t id);

// Creates (or promotes) a verified admin in the members database, migrating it first when it is
// new (as the server's start would). Throws std::runtime_error when the database cannot be opened.
Result<std::int64_t> CreateAdmin(const config::Config& config, members::NewMember member);

// The dead letters each service's database keeps, by database name ("catalog", ..., "provider"),
// plus those an older version left in a producer's SQLite database. Read-only. Throws
// std::runtime_error when a database cannot be read.
std::vector<std::pair<std::string, events::DeadLetter>> ReadDeadLetters(
    const config::Config& config);

}  // namespace rocketmart::app
