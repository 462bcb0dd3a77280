#include "infra/http/types.hpp"

#include <boost/json/serialize.hpp>
#include <charconv>

#include "infra/http/error_mapping.hpp"

namespace rocketmart::http {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decoding for query values; '+' means space. Returns nullopt for broken escapes.
std::optional<std::string> UrlDecode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%') {
      if (i + 2 >= in.size()) return std::nullopt;
      const int hi = HexValue(in[i + 1]);
      const int lo = HexValue(in[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string_view Request::Header(std::string_view name) const {
  const auto it = raw.find(name);
  if (it == raw.end()) return {};
  return it->value();
}

Result<std::int64_t> Request::IdParam(std::string_view name) const {
  for (const auto& [key, value] : params) {
    if (key != name) continue;
    std::int64_t id = 0;
    const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), id);
    if (ec != std::errc{} || ptr != value.data() + value.size() || id <= 0 || value.size() > 19) {
      // Not an id we could ever have issued: the resource cannot exist.
      return MakeError(Errc::kNotFound, "no such resource");
    }
    return id;
  }
  return MakeError(Errc::kNotFound, "no such resource");
}

std::optional<std::string> Request::QueryParam(std::string_view name) const {
  std::string_view rest = query;
  while (!rest.empty()) {
    const std::size_t amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
    const std::size_t eq = pair.find('=');
    const std::string_view key = pair.substr(0, eq);
    if (key != name) continue;
    const std::string_view value = eq == std::string_view::npos ? "" : pair.substr(eq + 1);
    auto decoded = UrlDecode(value);
    if (!decoded) return std::string("\x01invalid");  // fails every validator downstream
    return decoded;
  }
  return std::nullopt;
}

Result<std::int64_t> Request::IntQueryParam(std::string_view name, std::int64_t min,
                                            std::int64_t max, std::int64_t fallback) const {
  const auto text = QueryParam(name);
  if (!text) return fallback;
  std::int64_t value = 0;
  const auto [ptr, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (ec != std::errc{} || ptr != text->data() + text->size() || value < min || value > max) {
    std::string message(name);
    if (max == INT64_MAX) {
      message += " must be an integer of at least " + std::to_string(min);
    } else {
      message += " must be between " + std::to_string(min) + " and " + std::to_string(max);
    }
    return MakeError(Errc::kValidationFailed, std::move(message), std::string(name));
  }
  return value;
}

Response JsonText(Status status, std::string body) {
  Response res{status, 11};
  res.set(beast_http::field::content_type, "application/json");
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

Response JsonResponse(Status status, const boost::json::value& body) {
  return JsonText(status, boost::json::serialize(body));
}

Response TextResponse(Status status, std::string body, std::string_view content_type) {
  Response res{status, 11};
  res.set(beast_http::field::content_type, content_type);
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

Response NoContent() {
  Response res{Status::no_content, 11};
  res.prepare_payload();
  return res;
}

Response ErrorResponse(const Error& error) {
  boost::json::object inner;
  inner["code"] = ErrcName(error.code);
  inner["message"] = error.message.empty() ? std::string(ErrcName(error.code)) : error.message;
  if (!error.field.empty()) inner["details"] = boost::json::object{{"field", error.field}};
  boost::json::object outer;
  outer["error"] = std::move(inner);
  Response res = JsonResponse(StatusFor(error.code), outer);
  // Every 503 is transient (a full queue, a deadline, a dependency that is down): say when to
  // come back, so well-behaved clients back off instead of hammering.
  if (res.result() == Status::service_unavailable) res.set(beast_http::field::retry_after, "1");
  return res;
}

}  // namespace rocketmart::http
