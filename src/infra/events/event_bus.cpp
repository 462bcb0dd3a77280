#include "infra/events/event_bus.hpp"

namespace rocketmart::events {

EventSubscriber::~EventSubscriber() = default;
EventBus::~EventBus() = default;

}  // namespace rocketmart::events
