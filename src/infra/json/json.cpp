#include "infra/json/json.hpp"

#include <boost/json/basic_parser_impl.hpp>
#include <vector>

namespace rocketmart::json {
namespace {

// A validating pass with Boost.JSON's SAX parser: it enforces depth and rejects duplicate keys,
// which the DOM parser of Boost 1.81 silently merges (last one wins). Only runs on request bodies,
// which are small and bounded by the server's body limit.
struct DuplicateKeyHandler {
  static constexpr std::size_t max_object_size = 1024;
  static constexpr std::size_t max_array_size = 10000;
  static constexpr std::size_t max_key_size = 256;
  static constexpr std::size_t max_string_size = 1 << 20;

  std::vector<std::vector<std::string>> keys;  // one entry per open object
  std::string key_buffer;
  bool duplicate = false;
  bool too_deep = false;
  std::size_t depth = 0;

  bool Enter() {
    if (++depth > kMaxDepth) {
      too_deep = true;
      return false;
    }
    return true;
  }

  bool on_document_begin(boost::system::error_code&) { return true; }
  bool on_document_end(boost::system::error_code&) { return true; }
  bool on_object_begin(boost::system::error_code&) {
    keys.emplace_back();
    return Enter();
  }
  bool on_object_end(std::size_t, boost::system::error_code&) {
    keys.pop_back();
    --depth;
    return true;
  }
  bool on_array_begin(boost::system::error_code&) { return Enter(); }
  bool on_array_end(std::size_t, boost::system::error_code&) {
    --depth;
    return true;
  }
  bool on_key_part(std::string_view s, std::size_t, boost::system::error_code&) {
    key_buffer.append(s);
    return true;
  }
  bool on_key(std::string_view s, std::size_t, boost::system::error_code&) {
    key_buffer.append(s);
    auto& current = keys.back();
    for (const auto& k : current) {
      if (k == key_buffer) {
        duplicate = true;
        return false;
      }
    }
    current.push_back(std::move(key_buffer));
    key_buffer.clear();
    return true;
  }
  bool on_string_part(std::string_view, std::size_t, boost::system::error_code&) { return true; }
  bool on_string(std::string_view, std::size_t, boost::system::error_code&) { return true; }
  bool on_number_part(std::string_view, boost::system::error_code&) { return true; }
  bool on_int64(std::int64_t, std::string_view, boost::system::error_code&) { return true; }
  bool on_uint64(std::uint64_t, std::string_view, boost::system::error_code&) { return true; }
  bool on_double(double, std::string_view, boost::system::error_code&) { return true; }
  bool on_bool(bool, boost::system::error_code&) { return true; }
  bool on_null(boost::system::error_code&) { return true; }
  bool on_comment_part(std::string_view, boost::system::error_code&) { return true; }
  bool on_comment(std::string_view, boost::system::error_code&) { return true; }
};

bool IsControl(unsigned char c) {
  return c < 0x20 || c == 0x7f;
}

}  // namespace

std::size_t CountCodePoints(std::string_view utf8) {
  std::size_t n = 0;
  for (unsigned char c : utf8) n += (c & 0xC0) != 0x80;
  return n;
}

Result<bj::object> ParseObject(std::string_view body) {
  if (body.empty()) return MakeError(Errc::kMalformedJson, "request body must be a JSON object");
  bj::basic_parser<DuplicateKeyHandler> checker{bj::parse_options{}};
  boost::system::error_code ec;
  checker.write_some(false, body.data(), body.size(), ec);
  if (checker.handler().duplicate) {
    return MakeError(Errc::kMalformedJson, "duplicate key in JSON object");
  }
  if (checker.handler().too_deep) return MakeError(Errc::kMalformedJson, "JSON nested too deeply");
  if (ec) return MakeError(Errc::kMalformedJson, "malformed JSON");
  bj::value value = bj::parse(body, ec);
  if (ec) return MakeError(Errc::kMalformedJson, "malformed JSON");
  if (!value.is_object())
    return MakeError(Errc::kMalformedJson, "request body must be a JSON object");
  return std::move(value.as_object());
}

Result<bj::object> ParseDocument(std::string_view text) {
  boost::system::error_code ec;
  bj::value value = bj::parse(text, ec);
  if (ec) return MakeError(Errc::kMalformedJson, "not JSON: " + ec.message());
  if (!value.is_object()) return MakeError(Errc::kMalformedJson, "not a JSON object");
  return std::move(value.as_object());
}

void FieldReader::Fail(Errc code, std::string message, std::string_view field) {
  if (!error_) error_ = MakeError(code, std::move(message), std::string(field));
}

const bj::value* FieldReader::Find(std::string_view key, bool required) {
  if (error_) return nullptr;
  seen_keys_.append(key).push_back('\0');
  const auto it = object_.find(key);
  if (it == object_.end() || it->value().is_null()) {
    if (required) Fail(Errc::kValidationFailed, std::string(key) + " is required", key);
    return nullptr;
  }
  return &it->value();
}

std::optional<std::int64_t> FieldReader::IntValue(const bj::value* v, std::string_view key,
                                                  IntBounds bounds) {
  if (!v) return std::nullopt;
  if (v->is_uint64()) {
    Fail(Errc::kValidationFailed, std::string(key) + " is out of range", key);
    return std::nullopt;
  }
  if (!v->is_int64()) {
    Fail(Errc::kValidationFailed, std::string(key) + " must be an integer", key);
    return std::nullopt;
  }
  const std::int64_t n = v->as_int64();
  if (n < bounds.min || n > bounds.max) {
    Fail(Errc::kValidationFailed,
         std::string(key) + " must be between " + std::to_string(bounds.min) + " and " +
             std::to_string(bounds.max),
         key);
    return std::nullopt;
  }
  return n;
}

std::optional<std::string> FieldReader::StringValue(const bj::value* v, std::string_view key,
                                                    StringBounds bounds) {
  if (!v) return std::nullopt;
  if (!v->is_string()) {
    Fail(Errc::kValidationFailed, std::string(key) + " must be a string", key);
    return std::nullopt;
  }
  const bj::string& s = v->as_string();
  for (unsigned char c : s) {
    if (c == 0 || (bounds.single_line && IsControl(c))) {
      Fail(Errc::kValidationFailed, std::string(key) + " contains control characters", key);
      return std::nullopt;
    }
  }
  const std::size_t chars = CountCodePoints(std::string_view(s.data(), s.size()));
  if (chars < bounds.min_chars || chars > bounds.max_chars) {
    Fail(Errc::kValidationFailed,
         std::string(key) + " must be " + std::to_string(bounds.min_chars) + " to " +
             std::to_string(bounds.max_chars) + " characters",
         key);
    return std::nullopt;
  }
  return std::string(s.data(), s.size());
}

std::optional<std::int64_t> FieldReader::RequiredInt(std::string_view key, IntBounds bounds) {
  return IntValue(Find(key, true), key, bounds);
}
std::optional<std::int64_t> FieldReader::OptionalInt(std::string_view key, IntBounds bounds) {
  return IntValue(Find(key, false), key, bounds);
}
std::optional<std::string> FieldReader::RequiredString(std::string_view key, StringBounds bounds) {
  return StringValue(Find(key, true), key, bounds);
}
std::optional<std::string> FieldReader::OptionalString(std::string_view key, StringBounds bounds) {
  return StringValue(Find(key, false), key, bounds);
}

std::optional<bool> FieldReader::BoolValue(const bj::value* v, std::string_view key) {
  if (!v) return std::nullopt;
  if (!v->is_bool()) {
    Fail(Errc::kValidationFailed, std::string(key) + " must be true or false", key);
    return std::nullopt;
  }
  return v->as_bool();
}

std::optional<bool> FieldReader::OptionalBool(std::string_view key) {
  return BoolValue(Find(key, false), key);
}
std::optional<bool> FieldReader::RequiredBool(std::string_view key) {
  return BoolValue(Find(key, true), key);
}

std::int64_t FieldReader::SchemaVersion(std::string_view key, std::int64_t known) {
  const std::int64_t version = IntValue(Find(key, false), key, {1, INT64_MAX}).value_or(1);
  if (version > known) {
    Fail(Errc::kValidationFailed,
         std::string(key) + " " + std::to_string(version) + " is newer than this build reads (" +
             std::to_string(known) + ")",
         key);
  }
  return version;
}

const bj::array* FieldReader::RequiredArray(std::string_view key) {
  const bj::value* v = Find(key, true);
  if (!v) return nullptr;
  if (!v->is_array()) {
    Fail(Errc::kValidationFailed, std::string(key) + " must be an array", key);
    return nullptr;
  }
  return &v->as_array();
}

Status FieldReader::FinishAllowingUnknown() const {
  if (error_) return *error_;
  return Ok();
}

Status FieldReader::Finish() {
  if (!error_) {
    for (const auto& kv : object_) {
      const std::string_view k = kv.key();
      bool known = false;
      std::size_t pos = 0;
      while (pos < seen_keys_.size()) {
        const std::size_t end = seen_keys_.find('\0', pos);
        if (std::string_view(seen_keys_).substr(pos, end - pos) == k) {
          known = true;
          break;
        }
        pos = end + 1;
      }
      if (!known) {
        // The key is not echoed back: it is attacker-controlled text.
        Fail(Errc::kValidationFailed, "unknown field in request body", "");
        break;
      }
    }
  }
  if (error_) return *error_;
  return Ok();
}

}  // namespace rocketmart::json
