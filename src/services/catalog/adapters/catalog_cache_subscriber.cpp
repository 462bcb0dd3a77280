#include "services/catalog/adapters/catalog_cache_subscriber.hpp"

#include "services/catalog/api/events.hpp"

namespace rocketmart::catalog {
namespace {

void RefreshProduct(CatalogService& catalog, const events::Event& event) {
  api::ProductEvent e = events::DecodedOrSetAside(event, api::DecodeProductEvent(event.payload));
  // All four details are written together; an event without them comes from an older version.
  const bool details = e.description && e.image_url && e.created_at && e.updated_at;
  Product product;
  product.id = e.product_id;
  product.name = std::move(e.name);
  product.price = e.price;
  product.initial_stock = e.initial_stock;
  product.retired = e.retired;
  product.version = e.version;
  product.created_at = event.created_at;  // kept from the product shown, when there is one
  product.updated_at = e.updated_at.value_or(event.created_at);
  if (details) {
    product.description = std::move(*e.description);
    product.image_url = std::move(*e.image_url);
    product.created_at = *e.created_at;
  }
  catalog.RefreshProduct(std::move(product), details);
}

void RefreshLike(CatalogService& catalog, const events::Event& event) {
  const api::LikeChanged e =
      events::DecodedOrSetAside(event, api::DecodeLikeChanged(event.payload));
  catalog.RefreshLike(e.member_id, e.product_id,
                      LikeChange{e.likes, e.liked, static_cast<std::uint64_t>(e.seq)});
}

}  // namespace

std::vector<std::string> CatalogCacheSubscriber::Topics() {
  std::vector<std::string> topics(api::kProductTopics.begin(), api::kProductTopics.end());
  topics.emplace_back(api::kLikeChanged);
  return topics;
}

void CatalogCacheSubscriber::Handle(std::span<const events::Event> batch) {
  // Idempotent by version and sequence number: a redelivered batch, or one seen again after a
  // malformed event was set aside, changes nothing it already changed.
  for (const events::Event& event : batch) {
    if (event.topic == api::kLikeChanged) {
      RefreshLike(catalog_, event);
    } else {
      RefreshProduct(catalog_, event);
    }
  }
}

}  // namespace rocketmart::catalog
