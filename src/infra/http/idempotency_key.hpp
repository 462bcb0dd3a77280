// The Idempotency-Key request header (draft-ietf-httpapi-idempotency-key-header): the key, checked
// for shape, and a fingerprint of the request it protects (SHA-256 of method, path and body), so a
// service can tell "the same request again" from "the same key reused for another request".
// A route that takes no body (BodyRule::kNone) reaches here with an empty body whether the client
// sent nothing or `{}`: the server normalises it, so a retry that adds `{}` is the same request.
#pragma once

#include <optional>
#include <string>

#include "core/result.hpp"
#include "infra/http/types.hpp"

namespace rocketmart::http {

inline constexpr std::size_t kMaxIdempotencyKeyBytes = 255;

struct IdempotencyKey {
  std::string key;
  std::string fingerprint;
};

// nullopt when the header is absent; kValidationFailed when it is empty, longer than 255 bytes or
// not printable ASCII.
Result<std::optional<IdempotencyKey>> ReadIdempotencyKey(const Request& req);

}  // namespace rocketmart::http
