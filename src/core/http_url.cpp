#include "core/http_url.hpp"

#include <cctype>

namespace rocketmart {
namespace {

bool IsAlnum(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0;
}

bool IsDnsName(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  if (host.back() == '.') host.remove_suffix(1);  // a fully qualified name
  std::size_t start = 0;
  while (start <= host.size()) {
    const std::size_t dot = host.find('.', start);
    const std::string_view label =
        host.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    for (const char c : label) {
      if (!IsAlnum(c) && c != '-') return false;
    }
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return true;
}

bool IsIpv6Literal(std::string_view host) {
  if (host.size() < 4 || host.front() != '[' || host.back() != ']') return false;
  const std::string_view inside = host.substr(1, host.size() - 2);
  if (inside.find(':') == std::string_view::npos) return false;
  for (const char c : inside) {
    if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.') return false;
  }
  return true;
}

bool IsPort(std::string_view port) {
  if (port.empty() || port.size() > 5) return false;
  unsigned value = 0;
  for (const char c : port) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  return value >= 1 && value <= 65535;
}

}  // namespace

bool IsAbsoluteHttpUrl(std::string_view url) {
  return IsAbsoluteUrl(url, {"http", "https"});
}

bool IsAbsoluteUrl(std::string_view url, std::initializer_list<std::string_view> schemes) {
  for (const char c : url) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f ||
        std::string_view("\"<>\\^`{|}").find(c) != std::string_view::npos) {
      return false;
    }
  }
  const std::size_t separator = url.find("://");
  if (separator == std::string_view::npos) return false;
  const std::string_view scheme = url.substr(0, separator);
  bool known = false;
  for (const std::string_view s : schemes) known = known || s == scheme;
  if (!known) return false;
  const std::string_view rest = url.substr(separator + 3);
  const std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (authority.find('@') != std::string_view::npos) return false;
  std::string_view host = authority;
  if (!host.empty() && host.front() == '[') {
    const std::size_t close = host.find(']');
    if (close == std::string_view::npos) return false;
    if (close + 1 < host.size()) {
      if (host[close + 1] != ':' || !IsPort(host.substr(close + 2))) return false;
    }
    return IsIpv6Literal(host.substr(0, close + 1));
  }
  if (const std::size_t colon = host.rfind(':'); colon != std::string_view::npos) {
    if (!IsPort(host.substr(colon + 1))) return false;
    host = host.substr(0, colon);
  }
  return IsDnsName(host);  // an IPv4 address is a name of digit labels
}

}  // namespace rocketmart
