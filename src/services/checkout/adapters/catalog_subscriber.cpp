#include "services/checkout/adapters/catalog_subscriber.hpp"

#include <boost/json.hpp>

namespace rocketmart::checkout {

namespace {

ProductFacts Decode(const events::Event& event) {
  try {
    const boost::json::value v = boost::json::parse(event.payload);
    const auto& o = v.as_object();
    ProductFacts facts;
    facts.product_id = o.at("productId").to_number<std::int64_t>();
    facts.price = o.at("price").to_number<std::int64_t>();
    facts.initial_stock = o.at("initialStock").to_number<std::int64_t>();
    facts.retired = o.at("retired").as_bool();
    facts.version = o.at("version").to_number<std::int64_t>();
    // Events written before names were carried to orders have none.
    if (const auto* name = o.if_contains("name")) facts.name = name->as_string();
    return facts;
  } catch (const std::exception& e) {
    throw events::MalformedEvent(event.id, event.topic + ": " + e.what());
  }
}

}  // namespace

void CatalogSubscriber::Handle(std::span<const events::Event> batch) {
  // Each event is applied (and claimed) on its own, so one decoded after others were applied
  // is still safe to set aside: the applied ones are claimed and skipped on redelivery.
  for (const events::Event& event : batch) checkout_.OnProductFacts(Decode(event), event.id);
}

}  // namespace rocketmart::checkout
