// Unpadded base64url (RFC 4648 §5) as JWT uses it (RFC 7515 §2), with a strict decoder.
//
// Thread-safe (pure functions). The decoder accepts only the canonical encoding: no padding, no
// `+`/`/`, no whitespace, and zero unused trailing bits. Strictness matters for JWTs: a lenient
// decoder would let several distinct strings decode to the same signature (token malleability).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace rocketmart::auth {

// Appends the unpadded base64url encoding of `data` to `out`.
void Base64UrlEncodeAppend(std::string_view data, std::string& out);

inline std::string Base64UrlEncode(std::string_view data) {
  std::string out;
  Base64UrlEncodeAppend(data, out);
  return out;
}

// Maximum number of bytes `encoded_size` characters can decode to.
constexpr std::size_t Base64UrlDecodedSize(std::size_t encoded_size) {
  return encoded_size / 4 * 3 + (encoded_size % 4 == 0 ? 0 : encoded_size % 4 - 1);
}

// Decodes into `out` (capacity `out_capacity`), without allocating. Returns the decoded size, or
// nullopt if `in` is not canonical base64url or does not fit.
std::optional<std::size_t> Base64UrlDecode(std::string_view in, char* out,
                                           std::size_t out_capacity);

// Convenience overload for non-hot paths.
std::optional<std::string> Base64UrlDecode(std::string_view in);

}  // namespace rocketmart::auth
