// RFC 3339 UTC timestamps, the only time format on the wire.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/clock.hpp"

namespace rocketmart {

// "2026-11-24T12:00:00Z" (milliseconds appended when non-zero: "...00.250Z").
std::string FormatRfc3339(TimePoint t);
inline constexpr int kMaxRfc3339Year = 2200;

// Accepts "YYYY-MM-DDTHH:MM:SS[.fff]Z" and numeric offsets ("+09:00") for instants from
// 1970-01-01T00:00:00Z to the end of kMaxRfc3339Year. Rejects everything else.
std::optional<TimePoint> ParseRfc3339(std::string_view text);

}  // namespace rocketmart
