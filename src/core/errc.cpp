#include "core/errc.hpp"

namespace rocketmart {

std::string_view ErrcName(Errc code) noexcept {
  switch (code) {
    case Errc::kValidationFailed:
      return "VALIDATION_FAILED";
    case Errc::kMalformedJson:
      return "MALFORMED_JSON";
    case Errc::kPayloadTooLarge:
      return "PAYLOAD_TOO_LARGE";
    case Errc::kHeadersTooLarge:
      return "HEADERS_TOO_LARGE";
    case Errc::kUnsupportedMediaType:
      return "UNSUPPORTED_MEDIA_TYPE";
    case Errc::kNotFound:
      return "NOT_FOUND";
    case Errc::kMethodNotAllowed:
      return "METHOD_NOT_ALLOWED";
    case Errc::kConflict:
      return "CONFLICT";
    case Errc::kUnauthenticated:
      return "UNAUTHENTICATED";
    case Errc::kForbidden:
      return "FORBIDDEN";
    case Errc::kEmailNotVerified:
      return "EMAIL_NOT_VERIFIED";
    case Errc::kRateLimited:
      return "RATE_LIMITED";
    case Errc::kSaleNotStarted:
      return "SALE_NOT_STARTED";
    case Errc::kSaleEnded:
      return "SALE_ENDED";
    case Errc::kNoSale:
      return "NO_SALE";
    case Errc::kSoldOut:
      return "SOLD_OUT";
    case Errc::kPurchaseLimitReached:
      return "PURCHASE_LIMIT_REACHED";
    case Errc::kHoldExpired:
      return "HOLD_EXPIRED";
    case Errc::kHoldNotActive:
      return "HOLD_NOT_ACTIVE";
    case Errc::kPaymentDeclined:
      return "PAYMENT_DECLINED";
    case Errc::kIdempotencyKeyReused:
      return "IDEMPOTENCY_KEY_REUSED";
    case Errc::kRequestInFlight:
      return "REQUEST_IN_FLIGHT";
    case Errc::kInsufficientStock:
      return "INSUFFICIENT_STOCK";
    case Errc::kOrderNotCancellable:
      return "ORDER_NOT_CANCELLABLE";
    case Errc::kReturnWindowClosed:
      return "RETURN_WINDOW_CLOSED";
    case Errc::kOrderNotReturnable:
      return "ORDER_NOT_RETURNABLE";
    case Errc::kCartAlreadyCheckedOut:
      return "CART_ALREADY_CHECKED_OUT";
    case Errc::kOverloaded:
      return "OVERLOADED";
    case Errc::kTimeout:
      return "TIMEOUT";
    case Errc::kUnavailable:
      return "UNAVAILABLE";
    case Errc::kInternal:
      return "INTERNAL";
  }
  return "INTERNAL";
}

std::optional<Errc> ErrcFromName(std::string_view name) noexcept {
  for (auto i = static_cast<std::uint16_t>(Errc::kValidationFailed);
       i <= static_cast<std::uint16_t>(Errc::kInternal); ++i) {
    if (ErrcName(static_cast<Errc>(i)) == name) return static_cast<Errc>(i);
  }
  return std::nullopt;
}

}  // namespace rocketmart
