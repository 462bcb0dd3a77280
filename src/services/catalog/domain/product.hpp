// The catalog's domain: what a product is and the rules its fields obey. Pure: no I/O, no clock.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/clock.hpp"
#include "core/result.hpp"

namespace rocketmart::catalog {

// Field limits, part of the public contract (documented in the OpenAPI document).
inline constexpr std::size_t kNameMaxChars = 200;
inline constexpr std::size_t kDescriptionMaxChars = 5000;
inline constexpr std::size_t kImageUrlMaxChars = 2048;
inline constexpr std::int64_t kPriceMax = 1'000'000'000'000;  // minor units
inline constexpr std::int64_t kStockMax = 1'000'000'000;
inline constexpr std::size_t kMaxProducts = 1'000'000;

struct Product {
  std::int64_t id = 0;
  std::string name;
  std::string description;
  std::int64_t price = 0;  // minor units
  std::string image_url;
  std::int64_t initial_stock = 0;
  bool retired = false;
  TimePoint created_at;
  TimePoint updated_at;
  std::int64_t version = 1;  // bumped on every change; events carry it
};

// Everything an admin supplies when creating a product.
struct ProductDraft {
  std::string name;
  std::string description;
  std::int64_t price = 0;
  std::string image_url;
  std::int64_t stock = 0;
};

// A partial update: absent fields stay as they are. Stock is not here on purpose: once a product
// exists, its stock belongs to checkout's inventory (restock through the sale API).
struct ProductChanges {
  std::optional<std::string> name;
  std::optional<std::string> description;
  std::optional<std::int64_t> price;
  std::optional<std::string> image_url;
  bool empty() const { return !name && !description && !price && !image_url; }
};

// Rules beyond field shapes (the JSON layer checks types and lengths).
Status ValidateImageUrl(const std::string& url);
Status ValidateDraft(const ProductDraft& draft);
Status ValidateChanges(const ProductChanges& changes);

// Applies changes, bumping the version. Returns false when nothing actually changed.
bool ApplyChanges(Product& product, const ProductChanges& changes, TimePoint now);

}  // namespace rocketmart::catalog
