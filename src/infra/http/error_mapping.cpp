#include "infra/http/error_mapping.hpp"

namespace rocketmart::http {

using boost::beast::http::status;

status StatusFor(Errc code) noexcept {
  switch (code) {
    case Errc::kValidationFailed:
      return status::bad_request;
    case Errc::kMalformedJson:
      return status::bad_request;
    case Errc::kPayloadTooLarge:
      return status::payload_too_large;
    case Errc::kHeadersTooLarge:
      return status::request_header_fields_too_large;
    case Errc::kUnsupportedMediaType:
      return status::unsupported_media_type;
    case Errc::kNotFound:
      return status::not_found;
    case Errc::kMethodNotAllowed:
      return status::method_not_allowed;
    case Errc::kConflict:
      return status::conflict;
    case Errc::kUnauthenticated:
      return status::unauthorized;
    case Errc::kForbidden:
      return status::forbidden;
    case Errc::kEmailNotVerified:
      return status::forbidden;
    case Errc::kRateLimited:
      return status::too_many_requests;
    case Errc::kSaleNotStarted:
      return status::conflict;
    case Errc::kSaleEnded:
      return status::conflict;
    case Errc::kNoSale:
      return status::conflict;
    case Errc::kSoldOut:
      return status::conflict;
    case Errc::kPurchaseLimitReached:
      return status::conflict;
    case Errc::kHoldExpired:
      return status::conflict;
    case Errc::kHoldNotActive:
      return status::conflict;
    case Errc::kPaymentDeclined:
      return status::payment_required;
    case Errc::kIdempotencyKeyReused:
      return status::unprocessable_entity;
    case Errc::kRequestInFlight:
      return status::conflict;
    case Errc::kInsufficientStock:
      return status::conflict;
    case Errc::kOrderNotCancellable:
      return status::conflict;
    case Errc::kReturnWindowClosed:
      return status::conflict;
    case Errc::kOrderNotReturnable:
      return status::conflict;
    case Errc::kCartAlreadyCheckedOut:
      return status::conflict;
    case Errc::kOverloaded:
      return status::service_unavailable;
    case Errc::kTimeout:
      return status::service_unavailable;
    case Errc::kUnavailable:
      return status::service_unavailable;
    case Errc::kInternal:
      return status::internal_server_error;
  }
  return status::internal_server_error;
}

}  // namespace rocketmart::http
