#include "infra/redis/reply.hpp"

#include <charconv>

namespace rocketmart::redis {

bool Reply::IsErrorCode(std::string_view prefix) const {
  if (type != Type::kError || str.size() < prefix.size()) return false;
  return std::string_view(str).substr(0, prefix.size()) == prefix &&
         (str.size() == prefix.size() || str[prefix.size()] == ' ');
}

std::optional<long long> Reply::AsInteger() const {
  if (type == Type::kInteger) return integer;
  if (type != Type::kString && type != Type::kStatus) return std::nullopt;
  long long value = 0;
  const auto [end, ec] = std::from_chars(str.data(), str.data() + str.size(), value);
  if (ec != std::errc() || end != str.data() + str.size()) return std::nullopt;
  return value;
}

std::string Endpoint::ToString() const {
  if (!unix_path.empty()) return "unix://" + unix_path;
  return "redis://" + host + ":" + std::to_string(port) + (db != 0 ? "/" + std::to_string(db) : "");
}

Result<Endpoint> ParseEndpoint(std::string_view url) {
  constexpr std::string_view kUnix = "unix://";
  constexpr std::string_view kRedis = "redis://";
  Endpoint ep;
  if (url.substr(0, kUnix.size()) == kUnix) {
    ep.unix_path = std::string(url.substr(kUnix.size()));
    if (ep.unix_path.empty() || ep.unix_path[0] != '/') {
      return MakeError(Errc::kValidationFailed, "a unix:// Redis URL needs an absolute path");
    }
    return ep;
  }
  if (url.substr(0, kRedis.size()) != kRedis) {
    return MakeError(Errc::kValidationFailed, "a Redis URL starts with redis:// or unix://");
  }
  std::string_view rest = url.substr(kRedis.size());
  if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
    const std::string_view digits = rest.substr(slash + 1);
    if (!digits.empty()) {
      unsigned db = 0;
      const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), db);
      if (ec != std::errc() || end != digits.data() + digits.size() || db > 15) {
        return MakeError(Errc::kValidationFailed, "a Redis URL's database must be 0..15");
      }
      ep.db = static_cast<int>(db);
    }
    rest = rest.substr(0, slash);
  }
  if (rest.find('@') != std::string_view::npos) {
    return MakeError(Errc::kValidationFailed, "credentials in a Redis URL are not supported");
  }
  if (const auto colon = rest.rfind(':'); colon != std::string_view::npos) {
    const std::string_view digits = rest.substr(colon + 1);
    unsigned port = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
    if (ec != std::errc() || end != digits.data() + digits.size() || port == 0 || port > 65535) {
      return MakeError(Errc::kValidationFailed, "a Redis URL's port must be 1..65535");
    }
    ep.port = static_cast<std::uint16_t>(port);
    rest = rest.substr(0, colon);
  }
  if (rest.empty()) return MakeError(Errc::kValidationFailed, "a Redis URL needs a host");
  ep.host = std::string(rest);
  return ep;
}

}  // namespace rocketmart::redis
