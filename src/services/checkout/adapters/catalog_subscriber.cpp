#include "services/checkout/adapters/catalog_subscriber.hpp"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>

namespace rocketmart::checkout {

void CatalogSubscriber::Handle(std::span<const storage::Event> batch) {
  for (const storage::Event& event : batch) {
    boost::system::error_code ec;
    const boost::json::value v = boost::json::parse(event.payload, ec);
    if (ec || !v.is_object()) {
      // Our own producer wrote it; a malformed event is a bug, not something to retry forever.
      spdlog::error("checkout: skipping malformed catalog event {}", event.id);
      continue;
    }
    const auto& o = v.as_object();
    ProductFacts facts;
    facts.product_id = o.at("productId").to_number<std::int64_t>();
    facts.price = o.at("price").to_number<std::int64_t>();
    facts.initial_stock = o.at("initialStock").to_number<std::int64_t>();
    facts.retired = o.at("retired").as_bool();
    facts.version = o.at("version").to_number<std::int64_t>();
    checkout_.OnProductFacts(facts, event.id);
  }
}

}  // namespace rocketmart::checkout
