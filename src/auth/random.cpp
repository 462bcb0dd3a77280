#include "auth/random.hpp"

#include <openssl/rand.h>

#include <climits>
#include <stdexcept>
#include <vector>

namespace rocketmart::auth {

std::string RandomHex(std::size_t bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  if (bytes > static_cast<std::size_t>(INT_MAX))
    throw std::length_error("RandomHex: too many bytes");
  std::vector<unsigned char> raw(bytes);
  if (bytes > 0 && RAND_bytes(raw.data(), static_cast<int>(bytes)) != 1) {
    throw std::runtime_error("RAND_bytes failed: the CSPRNG is unavailable");
  }
  std::string out(bytes * 2, '\0');
  for (std::size_t i = 0; i < bytes; ++i) {
    out[2 * i] = kHex[raw[i] >> 4];
    out[2 * i + 1] = kHex[raw[i] & 0x0f];
  }
  return out;
}

}  // namespace rocketmart::auth
