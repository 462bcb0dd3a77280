// The Redis Streams bus's seam to an outbox engine: the interfaces of
// infra/events/outbox_stores.hpp (shared with the in-process OutboxEventBus), named here as the
// Redis bus has always named them.
#pragma once

#include "infra/events/outbox_stores.hpp"

namespace rocketmart::events::redis_streams {

using events::ConsumerStore;
using events::OutboxRow;
using events::OutboxSource;

}  // namespace rocketmart::events::redis_streams
