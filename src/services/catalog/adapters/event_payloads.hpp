// The payloads the catalog's stores append to its outbox (SQLite and PostgreSQL alike), built from
// the domain's values with the catalog's api/ codec: one definition, so both stores publish the
// same facts.
#pragma once

#include <string>

#include "services/catalog/api/events.hpp"
#include "services/catalog/domain/product.hpp"
#include "services/catalog/domain/shopping.hpp"

namespace rocketmart::catalog {

// product.created / updated / retired: every field a product page shows, after the change.
inline std::string ProductEventPayload(const Product& p) {
  api::ProductEvent event{p.id, p.name, p.price, p.initial_stock, p.retired, p.version};
  event.description = p.description;
  event.image_url = p.image_url;
  event.created_at = p.created_at;
  event.updated_at = p.updated_at;
  return api::Encode(event);
}

// like.changed: the committed change, with the product's count and sequence number after it.
inline std::string LikeChangedPayload(std::int64_t member_id, std::int64_t product_id,
                                      const LikeChange& change) {
  return api::Encode(api::LikeChanged{member_id, product_id, change.liked, change.likes,
                                      static_cast<std::int64_t>(change.seq)});
}

}  // namespace rocketmart::catalog
