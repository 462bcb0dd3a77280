#include "services/checkout/domain/sale.hpp"

namespace rocketmart::checkout {

SaleState StateOf(const Sale& sale, TimePoint now, std::optional<std::int64_t> available) {
  return SaleStateAt(sale.starts_at, sale.ends_at, available, now);
}

Status ValidateSale(const Sale& sale) {
  if (sale.ends_at <= sale.starts_at) {
    return MakeError(Errc::kValidationFailed, "endsAt must be after startsAt", "endsAt");
  }
  if (sale.per_member_limit < 1 || sale.per_member_limit > kMaxPerMemberLimit) {
    return MakeError(Errc::kValidationFailed, "perMemberLimit must be between 1 and 10000",
                     "perMemberLimit");
  }
  return Ok();
}

Status CheckWindow(const Sale* sale, TimePoint now) {
  if (sale == nullptr) return MakeError(Errc::kNoSale, "this product is not on sale");
  if (now < sale->starts_at) return MakeError(Errc::kSaleNotStarted, "the sale has not started");
  if (now >= sale->ends_at) return MakeError(Errc::kSaleEnded, "the sale has ended");
  return Ok();
}

}  // namespace rocketmart::checkout
