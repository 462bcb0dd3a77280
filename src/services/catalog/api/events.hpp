// The events the catalog publishes (source "catalog"): topic names, the payload and its codec,
// used by the catalog's store to encode and by every consumer to decode. Versioning and errors as
// described in services/checkout/api/events.hpp (and docs/adr/0007-event-port.md).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/clock.hpp"
#include "core/result.hpp"

namespace rocketmart::catalog::api {

inline constexpr std::string_view kSource = "catalog";

// A product was created, changed or retired; each carries the product's facts after the change.
// Consumed by checkout (its inventory, once; its memory of the product, on every instance) and by
// the catalog itself: every catalog instance refreshes its in-memory product from it (a cache
// refresh, newest version wins), which is why it carries every field a product page shows.
inline constexpr std::string_view kProductCreated = "product.created";
inline constexpr std::string_view kProductUpdated = "product.updated";
inline constexpr std::string_view kProductRetired = "product.retired";
inline constexpr std::array<std::string_view, 3> kProductTopics = {kProductCreated, kProductUpdated,
                                                                   kProductRetired};
inline constexpr std::int64_t kProductEventVersion = 1;

struct ProductEvent {
  std::int64_t product_id = 0;
  std::string name;  // "" when absent (never written without one, but never required either)
  std::int64_t price = 0;
  std::int64_t initial_stock = 0;
  bool retired = false;
  std::int64_t version = 0;  // the product's version: a consumer keeps the newest it saw
  // Added in issue 15 without a version change (absent in older events: nullopt). All four are
  // written together, so an event has either every one or none.
  std::optional<std::string> description;
  std::optional<std::string> image_url;
  std::optional<TimePoint> created_at;  // millisecond precision
  std::optional<TimePoint> updated_at;
};

std::string Encode(const ProductEvent& event);
Result<ProductEvent> DecodeProductEvent(std::string_view payload);

// A member liked or unliked a product (a change that changed something: liking a product already
// liked publishes nothing), in the transaction of the change. The catalog itself consumes it:
// every catalog instance refreshes its like counts and likedByMe from it (a cache refresh).
// `likes` is the product's absolute count after the change and `seq` the product's like sequence
// number (+1 per committed change of the product's likes, in commit order, whichever instance made
// it): an instance keeps the newest, so an older or redelivered event changes nothing.
inline constexpr std::string_view kLikeChanged = "like.changed";
inline constexpr std::int64_t kLikeChangedVersion = 1;

struct LikeChanged {
  std::int64_t member_id = 0;
  std::int64_t product_id = 0;
  bool liked = false;
  std::int64_t likes = 0;
  std::int64_t seq = 0;
};

std::string Encode(const LikeChanged& event);
Result<LikeChanged> DecodeLikeChanged(std::string_view payload);

}  // namespace rocketmart::catalog::api
