// What every checkout cache refresh shares (ADR 0007): the instance whose memory it refreshes, and
// a subscriber name of that instance's own (several instances each keep a position; the default
// suits one instance per process, as on Redis Streams, where a cache reader keeps no group).
#pragma once

#include <string>
#include <utility>

#include "infra/events/event_bus.hpp"
#include "services/checkout/checkout_service.hpp"

namespace rocketmart::checkout {

class CacheSubscriber : public events::EventSubscriber {
 public:
  CacheSubscriber(CheckoutService& checkout, std::string name)
      : checkout_(checkout), name_(std::move(name)) {}
  std::string_view Name() const override { return name_; }

 protected:
  CheckoutService& checkout_;

 private:
  std::string name_;
};

}  // namespace rocketmart::checkout
