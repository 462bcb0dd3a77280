// The closed set of outcomes every module reports to its callers.
//
// Each code has a stable public name (the `error.code` field of the HTTP error body). Codes are
// never renumbered or reused: add new ones at the end of their group. The HTTP layer maps codes to
// status codes in exactly one table (infra/http/error_mapping.cpp); domain code never names a
// status.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace rocketmart {

enum class Errc : std::uint16_t {
  // Request shape and validation.
  kValidationFailed,
  kMalformedJson,
  kPayloadTooLarge,
  kHeadersTooLarge,
  kUnsupportedMediaType,
  kNotFound,
  kMethodNotAllowed,
  kConflict,
  // Identity.
  kUnauthenticated,
  kForbidden,
  kEmailNotVerified,
  kRateLimited,
  // The sale.
  kSaleNotStarted,
  kSaleEnded,
  kNoSale,
  kSoldOut,
  kPurchaseLimitReached,
  kHoldExpired,
  kHoldNotActive,
  kPaymentDeclined,
  kIdempotencyKeyReused,
  kRequestInFlight,
  kInsufficientStock,
  // Orders.
  kOrderNotCancellable,
  kReturnWindowClosed,
  kOrderNotReturnable,
  // The cart.
  kCartAlreadyCheckedOut,
  // Infrastructure (never caused by the caller).
  kOverloaded,
  kTimeout,
  kUnavailable,
  kInternal,
};

// The stable UPPER_SNAKE name used on the wire.
std::string_view ErrcName(Errc code) noexcept;
// The code a wire name stands for (an answer from another service); nullopt for a name this
// version does not know.
std::optional<Errc> ErrcFromName(std::string_view name) noexcept;

}  // namespace rocketmart
