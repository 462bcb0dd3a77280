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
#include <vector>

#include "core/result.hpp"

namespace rocketmart::json {

namespace bj = boost::json;

inline constexpr std::size_t kMaxDepth = 16;

// Parses a body that must be a single JSON object. Rejects: empty or malformed text, trailing
// garbage, invalid UTF-8, nesting deeper than kMaxDepth, duplicate keys, non-object roots.
Result<bj::object> ParseObject(std::string_view body);

// Parses a document this system wrote for itself (an event payload): one pass and no duplicate-key
// check, since its writer is trusted; text that is not one JSON object is an error, never an
// exception.
Result<bj::object> ParseDocument(std::string_view text);

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
  std::optional<bool> RequiredBool(std::string_view key);
  // The schema version under `key` of a document another program of this system wrote: 1 when
  // absent (written before versions existed); above `known` is an error naming both.
  std::int64_t SchemaVersion(std::string_view key, std::int64_t known);
  // The array under `key`; nullptr (recording the error) when it is missing or not an array.
  const bj::array* RequiredArray(std::string_view key);
  // The objects of the array under `key`, each read into a T by `read(FieldReader&)` (unknown
  // fields allowed, as FinishAllowingUnknown); empty, recording the first error, when the array is
  // missing, holds anything but objects, or one of them does not read.
  template <class T, class Read>
  std::vector<T> RequiredObjects(std::string_view key, const Read& read);

  // Call last: rejects keys never asked for (mass assignment), then reports the first error.
  Status Finish();
  // Call last for a document another program of this system wrote (an event): reports the first
  // error but accepts keys never asked for, so a newer writer may add fields.
  Status FinishAllowingUnknown() const;

  bool ok() const { return !error_.has_value(); }

 private:
  const bj::value* Find(std::string_view key, bool required);
  std::optional<std::int64_t> IntValue(const bj::value* v, std::string_view key, IntBounds bounds);
  std::optional<std::string> StringValue(const bj::value* v, std::string_view key,
                                         StringBounds bounds);
  std::optional<bool> BoolValue(const bj::value* v, std::string_view key);
  void Fail(Errc code, std::string message, std::string_view field);

  void Adopt(const std::optional<Error>& error) {
    if (error && !error_) error_ = error;
  }

  const bj::object& object_;
  std::optional<Error> error_;
  std::string seen_keys_;  // '\0'-separated; objects are small so a linear scan is cheapest
};

template <class T, class Read>
std::vector<T> FieldReader::RequiredObjects(std::string_view key, const Read& read) {
  std::vector<T> out;
  const bj::array* array = RequiredArray(key);
  if (array == nullptr) return out;
  out.reserve(array->size());
  for (const bj::value& element : *array) {
    if (!element.is_object()) {
      Fail(Errc::kValidationFailed, std::string(key) + " must hold objects", key);
      return {};
    }
    FieldReader inner(element.as_object());
    out.push_back(read(inner));
    if (inner.error_) {
      Adopt(inner.error_);
      return {};
    }
  }
  return out;
}

// Reads a document another program of this system wrote (an event payload): parses it
// (ParseDocument) and hands a FieldReader to `read(FieldReader&) -> T`; the first problem (not a
// JSON object, a field missing or mistyped, a newer version) is the error. Never throws for bad
// input.
template <class T, class Read>
Result<T> ReadDocument(std::string_view text, const Read& read) {
  auto doc = ParseDocument(text);
  if (!doc.ok()) return doc.error();
  FieldReader reader(*doc);
  T value = read(reader);
  if (auto st = reader.FinishAllowingUnknown(); !st.ok()) return st.error();
  return value;
}

// Number of Unicode code points in valid UTF-8.
std::size_t CountCodePoints(std::string_view utf8);

// Serializes to a compact string.
inline std::string Serialize(const bj::value& v) {
  return bj::serialize(v);
}

}  // namespace rocketmart::json
