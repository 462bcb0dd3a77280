// The Redis Streams bus's seam over SQLite lives with the SQLite outbox
// (infra/events/sqlite_outbox/sqlite_stores.hpp); named here as the Redis bus has always named it.
#pragma once

#include "infra/events/redis_streams/stores.hpp"
#include "infra/events/sqlite_outbox/sqlite_stores.hpp"

namespace rocketmart::events::redis_streams {

using sqlite_outbox::SqliteConsumerStore;
using sqlite_outbox::SqliteOutboxSource;

}  // namespace rocketmart::events::redis_streams
