#include "auth/base64url.hpp"

#include <array>
#include <cstdint>

namespace rocketmart::auth {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr std::uint8_t kInvalid = 0xff;

constexpr std::array<std::uint8_t, 256> MakeDecodeTable() {
  std::array<std::uint8_t, 256> table{};
  for (auto& v : table) v = kInvalid;
  for (std::uint8_t i = 0; i < 64; ++i) table[static_cast<unsigned char>(kAlphabet[i])] = i;
  return table;
}
constexpr std::array<std::uint8_t, 256> kDecode = MakeDecodeTable();

}  // namespace

void Base64UrlEncodeAppend(std::string_view data, std::string& out) {
  const auto* in = reinterpret_cast<const unsigned char*>(data.data());
  const std::size_t n = data.size();
  const std::size_t start = out.size();
  out.resize(start + (n / 3) * 4 + (n % 3 == 0 ? 0 : n % 3 + 1));
  char* p = out.data() + start;
  std::size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    const std::uint32_t v = (in[i] << 16) | (in[i + 1] << 8) | in[i + 2];
    *p++ = kAlphabet[(v >> 18) & 63];
    *p++ = kAlphabet[(v >> 12) & 63];
    *p++ = kAlphabet[(v >> 6) & 63];
    *p++ = kAlphabet[v & 63];
  }
  if (n - i == 1) {
    const std::uint32_t v = in[i] << 16;
    *p++ = kAlphabet[(v >> 18) & 63];
    *p++ = kAlphabet[(v >> 12) & 63];
  } else if (n - i == 2) {
    const std::uint32_t v = (in[i] << 16) | (in[i + 1] << 8);
    *p++ = kAlphabet[(v >> 18) & 63];
    *p++ = kAlphabet[(v >> 12) & 63];
    *p++ = kAlphabet[(v >> 6) & 63];
  }
}

std::optional<std::size_t> Base64UrlDecode(std::string_view in, char* out,
                                           std::size_t out_capacity) {
  const std::size_t n = in.size();
  if (n % 4 == 1) return std::nullopt;  // No canonical encoding has this length.
  const std::size_t size = Base64UrlDecodedSize(n);
  if (size > out_capacity) return std::nullopt;
  const auto* s = reinterpret_cast<const unsigned char*>(in.data());
  std::size_t i = 0;
  std::size_t o = 0;
  for (; i + 4 <= n; i += 4) {
    const std::uint8_t a = kDecode[s[i]], b = kDecode[s[i + 1]], c = kDecode[s[i + 2]],
                       d = kDecode[s[i + 3]];
    // Valid sextets are < 64, kInvalid has the top bits set: one test covers all four.
    if (((a | b | c | d) & 0xc0) != 0) return std::nullopt;
    const std::uint32_t v = (a << 18) | (b << 12) | (c << 6) | d;
    out[o++] = static_cast<char>(v >> 16);
    out[o++] = static_cast<char>((v >> 8) & 0xff);
    out[o++] = static_cast<char>(v & 0xff);
  }
  const std::size_t rest = n - i;
  if (rest == 2) {
    const std::uint8_t a = kDecode[s[i]], b = kDecode[s[i + 1]];
    // The low 4 bits of the last character carry no data; non-zero means a non-canonical string.
    if (a == kInvalid || b == kInvalid || (b & 0x0f) != 0) return std::nullopt;
    out[o++] = static_cast<char>((a << 2) | (b >> 4));
  } else if (rest == 3) {
    const std::uint8_t a = kDecode[s[i]], b = kDecode[s[i + 1]], c = kDecode[s[i + 2]];
    if (a == kInvalid || b == kInvalid || c == kInvalid || (c & 0x03) != 0) return std::nullopt;
    const std::uint32_t v = (a << 18) | (b << 12) | (c << 6);
    out[o++] = static_cast<char>(v >> 16);
    out[o++] = static_cast<char>((v >> 8) & 0xff);
  }
  return o;
}

std::optional<std::string> Base64UrlDecode(std::string_view in) {
  std::string out(Base64UrlDecodedSize(in.size()), '\0');
  auto size = Base64UrlDecode(in, out.data(), out.size());
  if (!size) return std::nullopt;
  out.resize(*size);
  return out;
}

}  // namespace rocketmart::auth
