// Reading a peer service's JSON answer in a client binding: lenient about fields it does not know
// (a newer peer may add some), strict about the ones it needs. Each returns nullopt when the field
// is missing or of another type; the binding answers kUnavailable (the peer answered something
// this version cannot read). Header-only; pure.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "core/time_format.hpp"

namespace rocketmart::http::client {

inline std::optional<std::int64_t> IntField(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (v && v->is_int64()) return v->as_int64();
  if (v && v->is_uint64() && v->as_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
    return static_cast<std::int64_t>(v->as_uint64());
  }
  return std::nullopt;
}

inline std::optional<std::string> StringField(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (v && v->is_string()) return std::string(v->as_string());
  return std::nullopt;
}

inline std::optional<TimePoint> TimeField(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (v && v->is_string()) return ParseRfc3339(v->as_string());
  return std::nullopt;
}

inline const boost::json::array* ArrayField(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_array() ? &v->as_array() : nullptr;
}

inline Error Unreadable(std::string_view what) {
  return MakeError(Errc::kUnavailable,
                   "the peer service answered " + std::string(what) + " this version cannot read");
}

}  // namespace rocketmart::http::client
