#include "infra/events/event_bus.hpp"

#include "infra/events/outbox_stores.hpp"

namespace rocketmart::events {

EventSubscriber::~EventSubscriber() = default;
EventBus::~EventBus() = default;
OutboxSource::~OutboxSource() = default;
ConsumerStore::~ConsumerStore() = default;

}  // namespace rocketmart::events
