#include "services/catalog/domain/product.hpp"

#include "core/http_url.hpp"

namespace rocketmart::catalog {

Status ValidateImageUrl(const std::string& url) {
  if (url.empty() || IsAbsoluteHttpUrl(url)) return Ok();
  return MakeError(Errc::kValidationFailed,
                   "imageUrl must be an absolute http(s) URL with a host (or empty)", "imageUrl");
}

Status ValidateDraft(const ProductDraft& draft) {
  if (draft.price < 0 || draft.price > kPriceMax) {
    return MakeError(Errc::kValidationFailed, "price out of range", "price");
  }
  if (draft.stock < 0 || draft.stock > kStockMax) {
    return MakeError(Errc::kValidationFailed, "stock out of range", "stock");
  }
  return ValidateImageUrl(draft.image_url);
}

Status ValidateChanges(const ProductChanges& changes) {
  if (changes.empty()) {
    return MakeError(Errc::kValidationFailed, "nothing to change");
  }
  if (changes.price && (*changes.price < 0 || *changes.price > kPriceMax)) {
    return MakeError(Errc::kValidationFailed, "price out of range", "price");
  }
  if (changes.image_url) return ValidateImageUrl(*changes.image_url);
  return Ok();
}

bool ApplyChanges(Product& product, const ProductChanges& changes, TimePoint now) {
  bool changed = false;
  auto set = [&changed](auto& field, const auto& value) {
    if (value && field != *value) {
      field = *value;
      changed = true;
    }
  };
  set(product.name, changes.name);
  set(product.description, changes.description);
  set(product.price, changes.price);
  set(product.image_url, changes.image_url);
  if (changed) {
    product.updated_at = now;
    ++product.version;
  }
  return changed;
}

}  // namespace rocketmart::catalog
