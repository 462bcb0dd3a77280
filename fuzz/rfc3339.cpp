// Timestamps from request bodies (a sale's startsAt/endsAt).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/time_format.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto parsed = rocketmart::ParseRfc3339(text);
  if (!parsed) return 0;
  // Whatever was accepted has one canonical spelling that means the same instant.
  const auto again = rocketmart::ParseRfc3339(rocketmart::FormatRfc3339(*parsed));
  if (!again || *again != *parsed) std::abort();
  return 0;
}
