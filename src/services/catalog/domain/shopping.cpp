#include "services/catalog/domain/shopping.hpp"

#include <string>

namespace rocketmart::catalog {

SaleState ComputeSaleState(const std::optional<SaleInfo>& sale, std::optional<std::int64_t> stock,
                           TimePoint now) {
  if (!sale) return SaleState::kNone;
  return SaleStateAt(sale->starts_at, sale->ends_at, stock, now);
}

Status ValidateLineQuantity(std::int64_t quantity) {
  if (quantity < kLineQuantityMin || quantity > kLineQuantityMax) {
    return MakeError(Errc::kValidationFailed,
                     "quantity must be between " + std::to_string(kLineQuantityMin) + " and " +
                         std::to_string(kLineQuantityMax),
                     "quantity");
  }
  return Ok();
}

}  // namespace rocketmart::catalog
