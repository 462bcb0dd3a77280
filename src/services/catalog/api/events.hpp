// The events the catalog publishes (source "catalog"): topic names, the payload and its codec,
// used by the catalog's store to encode and by every consumer to decode. Versioning and errors as
// described in services/checkout/api/events.hpp (and docs/adr/0007-event-port.md).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace rocketmart::catalog::api {

inline constexpr std::string_view kSource = "catalog";

// A product was created, changed or retired; each carries the product's facts after the change.
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
};

std::string Encode(const ProductEvent& event);
Result<ProductEvent> DecodeProductEvent(std::string_view payload);

}  // namespace rocketmart::catalog::api
