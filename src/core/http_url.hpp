// Absolute http(s) URLs as the API accepts them (product images, and any configured base URL):
// "http://" or "https://", a host, an optional port, then an optional path, query or fragment.
// Pure; thread-safe.
#pragma once

#include <initializer_list>
#include <string_view>

namespace rocketmart {

// True for `http(s)://host[:port][/path][?query][#fragment]` where the host is a DNS name (labels
// of letters, digits and '-', not starting or ending with '-'), an IPv4 address or a bracketed
// IPv6 literal, and the port is 1..65535. False for a missing host ("http://", "http:///x",
// "http://:80"), credentials in the authority ("http://user@host": a link that reads as one host
// and goes to another), other schemes, and any space, control character or one of `"<>\^{|}`.
bool IsAbsoluteHttpUrl(std::string_view url);

// The same rules for another scheme, e.g. "smtp" and "smtps" for a mail server's URL: true when
// `url` starts with one of `schemes` (lower case) followed by "://".
bool IsAbsoluteUrl(std::string_view url, std::initializer_list<std::string_view> schemes);

}  // namespace rocketmart
