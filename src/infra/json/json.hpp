// Strict JSON request decoding on Boost.JSON.
//
// Every request body goes through ParseObject (size, depth, UTF-8, duplicate keys) and then a
// FieldReader that pulls typed fields with bounds and rejects anything unknown. The first problem
// found becomes the answer (VALIDATION_FAILED or MALFORMED_JSON, naming the field), so handlers
// stay straight-line and bad input never reaches the domain. Stateless; safe from any thread.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace rocketmart::json {

namespace bj = boost::json;

inline constexpr std::size_t kMaxDepth = 16;

// Parses a body that must be a single JSON object. Rejects: empty or malformed text, trailing
// garbage, invalid UTF-8, nesting deeper than kMaxDepth, duplicate keys, non-object roots.
Result<bj::object> ParseObject(std::string_view body);

struct IntBounds {
  std::int64_t min = 0;
  std::int64_t max = INT64_MAX;
};

struct StringBounds {
  std::size_t min_chars = 0;
  std::size_t max_chars = 1000;
  bool single_line = true;  // rejects control characters (tabs and newlines included)
};

// Reads fields out of one object. Records the first error; later calls are no-ops returning empty.
class FieldReader {
 public:
  explicit FieldReader(const bj::object& object) : object_(object) {}

  std::optional<std::int64_t> RequiredInt(std::string_view key, IntBounds bounds);
  std::optional<std::int64_t> OptionalInt(std::string_view key, IntBounds bounds);
  std::optional<std::string> RequiredString(std::string_view key, StringBounds bounds);
  std::optional<std::string> OptionalString(std::string_view key, StringBounds bounds);
  std::optional<bool> OptionalBool(std::string_view key);

  // Call last: rejects keys never asked for (mass assignment), then reports the first error.
  Status Finish();

  bool ok() const { return !error_.has_value(); }

 private:
  const bj::value* Find(std::string_view key, bool required);
  std::optional<std::int64_t> IntValue(const bj::value* v, std::string_view key, IntBounds bounds);
  std::optional<std::string> StringValue(const bj::value* v, std::string_view key,
                                         StringBounds bounds);
  void Fail(Errc code, std::string message, std::string_view field);

  const bj::object& object_;
  std::optional<Error> error_;
  std::string seen_keys_;  // '\0'-separated; objects are small so a linear scan is cheapest
};

// Number of Unicode code points in valid UTF-8.
std::size_t CountCodePoints(std::string_view utf8);

// Serializes to a compact string.
inline std::string Serialize(const bj::value& v) {
  return bj::serialize(v);
}

}  // namespace rocketmart::json
