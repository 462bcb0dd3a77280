#include "infra/http/client_address.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>
#include <string>

namespace rocketmart::http {
namespace {

using boost::asio::ip::address;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::optional<address> ParseAddress(std::string_view text) {
  boost::system::error_code ec;
  const address a = boost::asio::ip::make_address(std::string(text), ec);
  if (ec) return std::nullopt;
  return a;
}

std::array<std::uint8_t, 16> Bytes16(const address& a) {
  if (a.is_v6()) return a.to_v6().to_bytes();
  return boost::asio::ip::make_address_v6(boost::asio::ip::v4_mapped, a.to_v4()).to_bytes();
}

bool IsPort(std::string_view s) {
  return !s.empty() && s.size() <= 5 &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Calls `entry(text)` for each comma-separated entry of the lines, right to left, until it returns
// false.
template <class Fn>
void ForEachFromTheRight(std::span<const std::string_view> lines, Fn&& entry) {
  for (auto line = lines.rbegin(); line != lines.rend(); ++line) {
    std::string_view rest = *line;
    while (!rest.empty()) {
      const std::size_t comma = rest.rfind(',');
      const std::string_view item =
          Trim(comma == std::string_view::npos ? rest : rest.substr(comma + 1));
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(0, comma);
      if (item.empty()) continue;
      if (!entry(item)) return;
    }
  }
}

// The `for=` value of one Forwarded element ("for=192.0.2.1;proto=https"), or "" when absent.
std::string_view ForParameter(std::string_view element) {
  while (!element.empty()) {
    const std::size_t semi = element.find(';');
    const std::string_view pair = Trim(element.substr(0, semi));
    element = semi == std::string_view::npos ? std::string_view() : element.substr(semi + 1);
    if (pair.size() > 4 && (pair[0] == 'f' || pair[0] == 'F') &&
        (pair[1] == 'o' || pair[1] == 'O') && (pair[2] == 'r' || pair[2] == 'R') &&
        pair[3] == '=') {
      return pair.substr(4);
    }
  }
  return {};
}

}  // namespace

Result<TrustedProxies> TrustedProxies::Parse(std::string_view list) {
  TrustedProxies out;
  std::size_t i = 0;
  while (i < list.size()) {
    while (i < list.size() && (list[i] == ',' || list[i] == ' ' || list[i] == '\t')) ++i;
    std::size_t end = i;
    while (end < list.size() && list[end] != ',' && list[end] != ' ' && list[end] != '\t') ++end;
    if (end == i) break;
    const std::string_view entry = list.substr(i, end - i);
    i = end;
    const std::size_t slash = entry.find('/');
    const auto addr = ParseAddress(entry.substr(0, slash));
    const auto bad = [&] {
      return MakeError(Errc::kValidationFailed,
                       "\"" + std::string(entry) + "\" is not an IP address or CIDR block");
    };
    if (!addr) return bad();
    const int width = addr->is_v4() ? 32 : 128;
    int prefix = width;
    if (slash != std::string_view::npos) {
      const std::string_view bits = entry.substr(slash + 1);
      const auto [p, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), prefix);
      if (ec != std::errc() || p != bits.data() + bits.size() || bits.empty() || prefix < 0 ||
          prefix > width) {
        return bad();
      }
    }
    Network n{Bytes16(*addr), prefix + (addr->is_v4() ? 96 : 0)};
    // Host bits past the prefix are ignored (10.1.2.3/8 is 10.0.0.0/8).
    for (int bit = n.prefix; bit < 128; ++bit) n.bytes[bit / 8] &= ~(0x80u >> (bit % 8));
    out.networks_.push_back(n);
  }
  return out;
}

bool TrustedProxies::Contains(const address& a) const {
  if (networks_.empty()) return false;
  const std::array<std::uint8_t, 16> bytes = Bytes16(a);
  for (const Network& n : networks_) {
    const int full = n.prefix / 8;
    if (!std::equal(n.bytes.begin(), n.bytes.begin() + full, bytes.begin())) continue;
    const int rest = n.prefix % 8;
    if (rest == 0) return true;
    const std::uint8_t mask = static_cast<std::uint8_t>(0xFF00u >> rest);
    if ((bytes[full] & mask) == n.bytes[full]) return true;
  }
  return false;
}

std::optional<address> ParseForwardedAddress(std::string_view entry) {
  entry = Trim(entry);
  if (entry.size() >= 2 && entry.front() == '"' && entry.back() == '"') {
    entry = entry.substr(1, entry.size() - 2);
  }
  if (entry.empty()) return std::nullopt;
  if (entry.front() == '[') {  // [v6] or [v6]:port
    const std::size_t close = entry.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    const std::string_view after = entry.substr(close + 1);
    if (!after.empty() && !(after.front() == ':' && IsPort(after.substr(1)))) return std::nullopt;
    auto a = ParseAddress(entry.substr(1, close - 1));
    if (!a || !a->is_v6()) return std::nullopt;
    return a;
  }
  const std::size_t colon = entry.find(':');
  if (colon != std::string_view::npos && entry.find(':', colon + 1) == std::string_view::npos) {
    // a.b.c.d:port
    if (!IsPort(entry.substr(colon + 1))) return std::nullopt;
    auto a = ParseAddress(entry.substr(0, colon));
    if (!a || !a->is_v4()) return std::nullopt;
    return a;
  }
  return ParseAddress(entry);
}

address ClientAddress(const address& peer, const TrustedProxies& trusted,
                      std::span<const std::string_view> x_forwarded_for,
                      std::span<const std::string_view> forwarded) {
  if (!trusted.Contains(peer)) return peer;
  address nearest = peer;  // the closest hop known to be trusted
  std::optional<address> client;
  auto step = [&](std::optional<address> hop) {
    if (!hop) {
      client = nearest;  // not an address: the trusted hop that wrote it is the client we know
      return false;
    }
    if (!trusted.Contains(*hop)) {
      client = *hop;
      return false;
    }
    nearest = *hop;
    return true;
  };
  if (!x_forwarded_for.empty()) {
    ForEachFromTheRight(x_forwarded_for,
                        [&](std::string_view item) { return step(ParseForwardedAddress(item)); });
  } else {
    ForEachFromTheRight(forwarded, [&](std::string_view element) {
      const std::string_view value = ForParameter(element);
      return step(value.empty() ? std::nullopt : ParseForwardedAddress(value));
    });
  }
  return client.value_or(nearest);  // every hop trusted: the leftmost
}

}  // namespace rocketmart::http
