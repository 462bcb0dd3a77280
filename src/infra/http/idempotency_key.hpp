// The Idempotency-Key request header (draft-ietf-httpapi-idempotency-key-header): the key, checked
// for shape, and a fingerprint of the request it protects (SHA-256 of method, path and body), so a
// service can tell "the same request again" from "the same key reused for another request".
// A route that takes no body (BodyRule::kNone) reaches here with an empty body whether the client
// sent nothing or `{}`: the server normalises it, so a retry that adds `{}` is the same request.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/result.hpp"
#include "infra/http/types.hpp"

namespace rocketmart::http {

inline constexpr std::size_t kMaxIdempotencyKeyBytes = 255;

// A service calling another on a request's behalf may send, beside the Idempotency-Key, the
// fingerprint of the request it protects (64 lowercase hex digits) when the body it sends cannot
// be the same on a retry (a cart checkout's retry finds the cart already emptied). The gateway
// strips every X-Rocketmart-* header a client sends.
inline constexpr std::string_view kVouchedFingerprintHeader =
    "X-Rocketmart-Idempotency-Fingerprint";

struct IdempotencyKey {
  std::string key;
  std::string fingerprint;
};

// nullopt when the header is absent; kValidationFailed when it is empty, longer than 255 bytes or
// not printable ASCII.
Result<std::optional<IdempotencyKey>> ReadIdempotencyKey(const Request& req);
// The same check without the fingerprint: the key as the request holds it (valid while `req` is).
Result<std::optional<std::string_view>> IdempotencyKeyOf(const Request& req);

}  // namespace rocketmart::http
