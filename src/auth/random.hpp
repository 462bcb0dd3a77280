// Cryptographically secure random identifiers (token ids, generated secrets).
//
// Thread-safe: OpenSSL's default DRBG is per-thread. Usage: `std::string jti = RandomHex(16);`
#pragma once

#include <cstddef>
#include <string>

namespace rocketmart::auth {

// Returns 2 * `bytes` lowercase hex characters drawn from OpenSSL's CSPRNG. A failing CSPRNG is an
// infrastructure failure we must never paper over with weaker randomness, so it throws
// std::runtime_error.
std::string RandomHex(std::size_t bytes);

}  // namespace rocketmart::auth
