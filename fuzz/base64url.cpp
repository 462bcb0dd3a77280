// Token segments (JWT header, payload, signature) and opaque cursors.
#include "auth/base64url.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace rocketmart::auth;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const auto round_trip = Base64UrlDecode(Base64UrlEncode(bytes));
  if (!round_trip || *round_trip != bytes) std::abort();
  if (const auto decoded = Base64UrlDecode(bytes)) {
    // Canonical: an accepted encoding is the only one of its bytes.
    if (Base64UrlEncode(*decoded) != bytes) std::abort();
  }
  return 0;
}
