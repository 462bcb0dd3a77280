// The client address a request is answered for: the socket peer, unless the peer is a proxy the
// operator trusts (`server.trusted_proxies`), in which case the address that proxy reports.
//
// Behind a gateway or a load balancer the peer is always the proxy, so throttles keyed by the
// peer would throttle everyone together; taking X-Forwarded-For from anybody would let a client
// name any address it likes. The rule (as nginx's real_ip_recursive): only when the peer is
// trusted, walk the forwarding chain from the right (the entries the trusted proxies appended)
// and take the first address that is not itself a trusted proxy; if every entry is trusted, the
// leftmost; an entry that is not an address (`unknown`, an obfuscated identifier, garbage) stops
// the walk at the nearest trusted hop, which is then the client. The chain is X-Forwarded-For
// (every line, in order), or, when there is none, the `for=` parameters of RFC 7239 Forwarded. A
// trusted proxy must therefore append to X-Forwarded-For (nginx, HAProxy, Envoy, cloud load
// balancers do), or remove one the client sent if it speaks only Forwarded.
//
// Thread-safety: TrustedProxies is immutable after Parse; the functions are pure.
#pragma once

#include <array>
#include <boost/asio/ip/address.hpp>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace rocketmart::http {

class TrustedProxies {
 public:
  // Addresses and CIDR blocks separated by commas and/or spaces, e.g. "10.0.0.0/8, ::1,
  // 192.0.2.7". Empty: nobody is trusted. kValidationFailed naming the first bad entry.
  static Result<TrustedProxies> Parse(std::string_view list);

  bool empty() const { return networks_.empty(); }
  // IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) match the IPv4 blocks.
  bool Contains(const boost::asio::ip::address& address) const;

 private:
  struct Network {
    std::array<std::uint8_t, 16> bytes{};  // IPv4 as ::ffff:a.b.c.d
    int prefix = 0;                        // bits, 0..128 over those 16 bytes
  };
  std::vector<Network> networks_;
};

// One forwarded address as proxies write it: "192.0.2.1", "192.0.2.1:4711", "2001:db8::1",
// "[2001:db8::1]", "[2001:db8::1]:4711", optionally quoted. nullopt for anything else.
std::optional<boost::asio::ip::address> ParseForwardedAddress(std::string_view entry);

// The client of a request from `peer` (see the file comment). `x_forwarded_for` and `forwarded`
// are the header lines in the order received.
boost::asio::ip::address ClientAddress(const boost::asio::ip::address& peer,
                                       const TrustedProxies& trusted,
                                       std::span<const std::string_view> x_forwarded_for,
                                       std::span<const std::string_view> forwarded);

}  // namespace rocketmart::http
